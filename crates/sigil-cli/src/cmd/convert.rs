//! `sigil convert`: rules → queries for a target.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use rayon::prelude::*;
use sigil_core::backend::{BackendOptions, ConvertError};
use sigil_core::collection::{find_rule_files, Collection};
use sigil_core::load::load_file;

#[derive(Args, Debug)]
pub struct ConvertArgs {
    /// Target (see `sigil list targets`).
    #[arg(short = 't', long = "target")]
    pub target: String,
    /// Processing pipeline, by built-in name or YAML file (repeatable).
    #[arg(short = 'p', long = "pipeline")]
    pub pipelines: Vec<String>,
    /// Output format: one of the target's formats, or `json` (one JSON object per rule).
    #[arg(short = 'f', long = "format")]
    pub format: Option<String>,
    /// Write the output to this file instead of standard output; with an existing
    /// directory (or a path ending in `/`), one file per rule in that directory, named
    /// after the rule file (see the README). Files are written atomically.
    #[arg(short = 'o', long = "output")]
    pub output: Option<PathBuf>,
    /// Table name for SQL targets.
    #[arg(long)]
    pub table: Option<String>,
    /// Backend option `key=value` (repeatable; see the target's documentation).
    #[arg(short = 'O', long = "option", value_parser = parse_kv)]
    pub options: Vec<(String, String)>,
    /// Report rules the target cannot express and go on (exit 0 if nothing else failed).
    #[arg(long)]
    pub skip_unsupported: bool,
    /// Rule files or directories.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
}

fn parse_kv(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("expected key=value, got '{s}'"))
}

/// One converted rule, in output order.
struct Converted {
    path: String,
    document: usize,
    result: Result<Vec<String>, ConvertError>,
    /// The rule's output text (rendered in parallel), or why it has none.
    output: Output,
}

/// What one rule contributes to the output.
enum Output {
    /// Text for the output (a JSON line, or the rendered queries ending in a newline).
    Text(String),
    /// `--skip-unsupported` skipped it (message for standard error).
    Skipped(String),
    /// An error (message for standard error), with a JSON error line in `json` format.
    Failed { json: Option<String>, error: String },
}

/// Render one rule's result in the output format. Pure, so it runs on the rayon pool.
fn render(
    backend: &dyn sigil_core::backend::Backend,
    format: &str,
    skip_unsupported: bool,
    path: &str,
    meta: &sigil_core::RuleMeta,
    result: &Result<Vec<String>, ConvertError>,
) -> Output {
    match result {
        Ok(queries) => {
            if format == "json" {
                let obj = serde_json::json!({
                    "path": path, "id": meta.display_id(), "title": meta.title, "queries": queries,
                });
                let mut line = obj.to_string();
                line.push('\n');
                Output::Text(line)
            } else {
                match backend.render(format, meta, queries) {
                    Ok(mut s) => {
                        if !s.ends_with('\n') {
                            s.push('\n');
                        }
                        Output::Text(s)
                    }
                    Err(e) => Output::Failed {
                        json: None,
                        error: format!("{path}: error: {e}"),
                    },
                }
            }
        }
        Err(e) if e.unsupported && skip_unsupported => {
            Output::Skipped(format!("{path}: skipped: {e}"))
        }
        Err(e) => Output::Failed {
            json: (format == "json").then(|| {
                let obj = serde_json::json!({"path": path, "id": meta.display_id(), "error": e.to_string()});
                let mut line = obj.to_string();
                line.push('\n');
                line
            }),
            error: format!("{path}: error: {e}"),
        },
    }
}

pub fn run(args: ConvertArgs) -> anyhow::Result<ExitCode> {
    let pipeline = sigil_pipeline::resolve(&args.pipelines).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut opts = BackendOptions {
        table: args.table.clone(),
        options: args.options.iter().cloned().collect(),
    };
    // Options a pipeline asks for (e.g. cloudtrail-athena's table layout); `-O` wins.
    for (k, v) in pipeline.backend_options() {
        opts.options.entry(k.clone()).or_insert_with(|| v.clone());
    }
    let backend = crate::targets::make(&args.target, &opts)?;
    pipeline
        .check_backend(backend.name())
        .map_err(|e| anyhow::anyhow!(e))?;
    let format = args
        .format
        .clone()
        .unwrap_or_else(|| backend.formats()[0].to_string());
    if format != "json" && !backend.formats().contains(&format.as_str()) {
        anyhow::bail!(
            "unknown format '{format}' for target {}; formats: json, {}",
            backend.name(),
            backend.formats().join(", ")
        );
    }

    let destination = Destination::of(args.output.as_deref());
    if matches!(destination, Destination::Dir(_)) && pipeline.has_finalizers() && format != "json" {
        anyhow::bail!(
            "the pipeline's finalizer combines all queries into one output; use -o FILE, not a directory"
        );
    }
    let progress = Progress::new();

    // Load, lower and convert in parallel (rayon); every step keeps the sorted file order.
    let files = find_rule_files(&args.paths)?;
    let bar = progress.stage("loading", files.len());
    let loaded: Vec<_> = files
        .par_iter()
        .map(|p| {
            let f = load_file(p);
            bar.inc();
            f
        })
        .collect();
    bar.finish();
    let collection = Collection::from_files(loaded);
    let mut lowered = collection.lower();
    let mut errors: Vec<String> = collection.load_errors().map(|e| e.to_string()).collect();
    errors.extend(lowered.errors.iter().map(|e| e.to_string()));
    errors.extend(
        pipeline
            .apply_lowered(&mut lowered)
            .iter()
            .map(|e| e.to_string()),
    );

    let bar = progress.stage("converting", lowered.rules.len());
    let mut converted: Vec<Converted> = lowered
        .rules
        .par_iter()
        .zip(lowered.emit.par_iter())
        .filter(|(_, emit)| **emit)
        .map(|(r, _)| {
            let path = r.meta.source.path.to_string();
            let result = backend
                .convert_rule(r)
                .map(|qs| qs.into_iter().map(|q| pipeline.postprocess(r, q)).collect());
            let output = render(
                backend.as_ref(),
                &format,
                args.skip_unsupported,
                &path,
                &r.meta,
                &result,
            );
            bar.inc();
            Converted {
                document: r.meta.source.document,
                path,
                result,
                output,
            }
        })
        .collect();
    bar.finish();
    converted.extend(lowered.correlations.iter().map(|c| {
        let path = c.meta.source.path.to_string();
        let result = backend.convert_correlation(c, &lowered);
        let output = render(
            backend.as_ref(),
            &format,
            args.skip_unsupported,
            &path,
            &c.meta,
            &result,
        );
        Converted {
            document: c.meta.source.document,
            path,
            result,
            output,
        }
    }));
    // Stable output: sorted by path, then by document inside a file.
    converted.sort_by(|a, b| (a.path.as_str(), a.document).cmp(&(b.path.as_str(), b.document)));

    let mut text = String::new();
    let mut skipped = 0usize;
    let mut per_rule: Vec<(&Converted, &str)> = vec![];
    for c in &converted {
        match &c.output {
            Output::Text(t) => {
                text.push_str(t);
                per_rule.push((c, t));
            }
            Output::Skipped(msg) => {
                skipped += 1;
                eprintln!("{msg}");
            }
            Output::Failed { json, error } => {
                if let Some(j) = json {
                    text.push_str(j);
                }
                errors.push(error.clone());
            }
        }
    }
    // Pipeline finalizers (concat, json, yaml) build the whole output from all queries.
    if pipeline.has_finalizers() && format != "json" {
        let all: Vec<String> = converted
            .iter()
            .filter_map(|c| c.result.as_ref().ok())
            .flatten()
            .cloned()
            .collect();
        text = pipeline.finalize(all);
        if !text.ends_with('\n') {
            text.push('\n');
        }
    }
    match &destination {
        Destination::Stdout => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())?;
            out.flush()?;
        }
        Destination::File(path) => crate::atomic::write_atomic(path, text.as_bytes(), true)?,
        Destination::Dir(dir) => {
            let ext = extension(backend.name(), &format);
            let files = per_rule_files(&args.paths, &per_rule, ext)?;
            write_dir(dir, &files)?;
        }
    }
    for e in &errors {
        eprintln!("{e}");
    }
    let ok = converted.iter().filter(|c| c.result.is_ok()).count();
    eprintln!(
        "{} rules converted, {} skipped as unsupported, {} errors",
        ok,
        skipped,
        errors.len()
    );
    // The process ends here: freeing thousands of ASTs, IRs and queries one by one would
    // cost more than a tenth of a corpus run. The OS takes the memory back.
    std::mem::forget((collection, lowered, converted));
    Ok(if errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Where the output goes.
enum Destination {
    Stdout,
    File(PathBuf),
    /// One file per rule.
    Dir(PathBuf),
}

impl Destination {
    fn of(output: Option<&Path>) -> Self {
        match output {
            None => Destination::Stdout,
            Some(p) if p.is_dir() || p.as_os_str().to_string_lossy().ends_with('/') => {
                Destination::Dir(p.to_path_buf())
            }
            Some(p) => Destination::File(p.to_path_buf()),
        }
    }
}

/// A progress bar on standard error, only when it is a terminal (never in pipes, files or
/// CI logs). Ticks come from the rayon workers.
struct Progress {
    enabled: bool,
}

struct Stage(Option<indicatif::ProgressBar>);

impl Progress {
    fn new() -> Self {
        Progress {
            enabled: std::io::stderr().is_terminal(),
        }
    }

    fn stage(&self, what: &str, len: usize) -> Stage {
        if !self.enabled || len == 0 {
            return Stage(None);
        }
        let bar = indicatif::ProgressBar::with_draw_target(
            Some(len as u64),
            indicatif::ProgressDrawTarget::stderr(),
        );
        if let Ok(style) =
            indicatif::ProgressStyle::with_template("{msg:>10} [{bar:40}] {pos}/{len} ({elapsed})")
        {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(what.to_string());
        Stage(Some(bar))
    }
}

impl Stage {
    fn inc(&self) {
        if let Some(b) = &self.0 {
            b.inc(1);
        }
    }
    fn finish(&self) {
        if let Some(b) = &self.0 {
            b.finish_and_clear();
        }
    }
}

/// File extension for one-file-per-rule output.
fn extension(target: &str, format: &str) -> &'static str {
    match format {
        "json" => "json",
        f if f.contains("ndjson") => "ndjson",
        f if f.starts_with("dsl") || f.starts_with("siem_rule") => "json",
        _ => match target {
            "athena" | "postgres" | "sqlite" => "sql",
            "lucene" => "lucene",
            _ => "txt",
        },
    }
}

/// The output file of each rule, relative to the output directory: the rule file's path
/// relative to the input argument it was found under, with the extension replaced (and
/// `_<document>` added for files holding several rules).
fn per_rule_files(
    inputs: &[PathBuf],
    rules: &[(&Converted, &str)],
    ext: &str,
) -> anyhow::Result<Vec<(PathBuf, String)>> {
    let mut docs_per_file: std::collections::HashMap<&str, usize> = Default::default();
    for (c, _) in rules {
        *docs_per_file.entry(c.path.as_str()).or_default() += 1;
    }
    let mut out = Vec::with_capacity(rules.len());
    let mut seen: std::collections::HashMap<PathBuf, &str> = Default::default();
    for (c, text) in rules {
        let source = Path::new(&c.path);
        let rel = inputs
            .iter()
            .find_map(|i| {
                if i.is_dir() {
                    source.strip_prefix(i).ok().map(Path::to_path_buf)
                } else {
                    (i == source).then(|| PathBuf::from(source.file_name().unwrap_or_default()))
                }
            })
            .unwrap_or_else(|| PathBuf::from(source.file_name().unwrap_or_default()));
        // Never let a relative path climb out of the output directory.
        let rel: PathBuf = rel
            .components()
            .filter(|c| matches!(c, std::path::Component::Normal(_)))
            .collect();
        let stem = rel
            .file_stem()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_else(|| "rule".into());
        let name = if docs_per_file.get(c.path.as_str()).copied().unwrap_or(0) > 1 {
            format!("{stem}_{}.{ext}", c.document)
        } else {
            format!("{stem}.{ext}")
        };
        let file = rel.with_file_name(name);
        if let Some(other) = seen.insert(file.clone(), &c.path) {
            anyhow::bail!(
                "{} and {} would both be written to {}; convert them into different directories",
                other,
                c.path,
                file.display()
            );
        }
        out.push((file, text.to_string()));
    }
    Ok(out)
}

/// Name of the manifest listing the files a previous `sigil convert -o DIR` wrote there.
const MANIFEST: &str = ".sigil-convert-manifest";

/// Write one file per rule into `dir`. A file that already exists is replaced only if a
/// previous `sigil convert` wrote it (it is listed in the directory's manifest); any other
/// existing file stops the run before anything is written. Files of the previous run that
/// this run does not produce are removed (again, only those listed in the manifest).
fn write_dir(dir: &Path, files: &[(PathBuf, String)]) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let manifest_path = dir.join(MANIFEST);
    let previous: std::collections::BTreeSet<PathBuf> =
        match std::fs::read_to_string(&manifest_path) {
            Ok(s) => s
                .lines()
                .filter(|l| !l.is_empty())
                .map(PathBuf::from)
                .collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Default::default(),
            Err(e) => {
                return Err(e).with_context(|| format!("reading {}", manifest_path.display()))
            }
        };
    for (rel, _) in files {
        let target = dir.join(rel);
        if target.symlink_metadata().is_ok() && !previous.contains(rel) {
            anyhow::bail!(
                "{} exists and was not written by sigil convert; not overwriting it (remove it or choose another directory)",
                target.display()
            );
        }
    }
    files.par_iter().try_for_each(|(rel, text)| {
        let target = dir.join(rel);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        crate::atomic::write_atomic(&target, text.as_bytes(), false)
    })?;
    let current: std::collections::BTreeSet<PathBuf> =
        files.iter().map(|(r, _)| r.clone()).collect();
    for stale in previous.difference(&current) {
        let p = dir.join(stale);
        if p.is_file() {
            std::fs::remove_file(&p).with_context(|| format!("removing stale {}", p.display()))?;
        }
    }
    let mut manifest = String::new();
    for rel in &current {
        manifest.push_str(&rel.to_string_lossy());
        manifest.push('\n');
    }
    crate::atomic::write_atomic(&manifest_path, manifest.as_bytes(), true)
}
