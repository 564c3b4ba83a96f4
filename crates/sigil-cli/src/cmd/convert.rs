//! `sigil convert`: rules → queries for a target.

use std::io::Write;
use std::path::PathBuf;
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
    /// Write the output to this file instead of standard output.
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
    id: String,
    title: String,
    result: Result<Vec<String>, ConvertError>,
    meta: std::sync::Arc<sigil_core::RuleMeta>,
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

    let files = find_rule_files(&args.paths)?;
    let loaded: Vec<_> = files.par_iter().map(|p| load_file(p)).collect();
    let collection = Collection::from_files(loaded);
    let mut lowered = collection.lower();
    let mut errors: Vec<String> = collection.load_errors().map(|e| e.to_string()).collect();
    collection.resolve_errors(&mut lowered.errors);
    errors.extend(lowered.errors.iter().map(|e| e.to_string()));
    errors.extend(
        pipeline
            .apply_lowered(&mut lowered)
            .iter()
            .map(|e| e.to_string()),
    );

    let mut converted: Vec<Converted> = lowered
        .rules
        .par_iter()
        .zip(lowered.emit.par_iter())
        .filter(|(_, emit)| **emit)
        .map(|(r, _)| Converted {
            path: r.meta.source.path.to_string(),
            id: r.meta.display_id(),
            title: r.meta.title.clone(),
            result: backend
                .convert_rule(r)
                .map(|qs| qs.into_iter().map(|q| pipeline.postprocess(r, q)).collect()),
            meta: r.meta.clone(),
        })
        .collect();
    converted.extend(lowered.correlations.iter().map(|c| Converted {
        path: c.meta.source.path.to_string(),
        id: c.meta.display_id(),
        title: c.meta.title.clone(),
        result: backend.convert_correlation(c, &lowered),
        meta: c.meta.clone(),
    }));
    converted.sort_by(|a, b| {
        (a.path.as_str(), a.meta.source.document).cmp(&(b.path.as_str(), b.meta.source.document))
    });

    let mut text = String::new();
    let mut skipped = 0usize;
    for c in &converted {
        match &c.result {
            Ok(queries) => {
                if format == "json" {
                    let obj = serde_json::json!({
                        "path": c.path, "id": c.id, "title": c.title, "queries": queries,
                    });
                    text.push_str(&obj.to_string());
                    text.push('\n');
                } else {
                    match backend.render(&format, &c.meta, queries) {
                        Ok(s) => {
                            text.push_str(&s);
                            if !s.ends_with('\n') {
                                text.push('\n');
                            }
                        }
                        Err(e) => errors.push(format!("{}: error: {e}", c.path)),
                    }
                }
            }
            Err(e) if e.unsupported && args.skip_unsupported => {
                skipped += 1;
                eprintln!("{}: skipped: {e}", c.path);
            }
            Err(e) => {
                if format == "json" {
                    let obj =
                        serde_json::json!({"path": c.path, "id": c.id, "error": e.to_string()});
                    text.push_str(&obj.to_string());
                    text.push('\n');
                }
                errors.push(format!("{}: error: {e}", c.path));
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
    write_output(args.output.as_ref(), &text)?;
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
    Ok(if errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Write to a file through a temporary file and a rename, so a failed run never leaves a
/// half-written file in place of the user's previous output.
fn write_output(output: Option<&PathBuf>, text: &str) -> anyhow::Result<()> {
    match output {
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())?;
            out.flush()?;
        }
        Some(path) => {
            let dir = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(std::path::Path::new("."));
            let tmp = dir.join(format!(
                ".{}.sigil-tmp-{}",
                path.file_name().and_then(|n| n.to_str()).unwrap_or("out"),
                std::process::id()
            ));
            std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
            std::fs::rename(&tmp, path)
                .with_context(|| format!("renaming to {}", path.display()))?;
        }
    }
    Ok(())
}
