//! `sigil check`: load, lower and report problems; without `--syntax`, also run every
//! validator of `sigil-check` (see `sigil list validators`).
//!
//! Exit codes: 0 nothing at or above the `--fail-on` severity (default `warning`) was
//! reported; 1 a rule has such a problem (every syntax error counts); 2 usage, I/O or
//! configuration error.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, ValueEnum};
use rayon::prelude::*;
use sigil_check::{Config, Finding, Severity};
use sigil_core::collection::{find_rule_files, Collection};
use sigil_core::load::load_file;
use sigil_core::Error;

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// Files or directories (searched recursively for .yml/.yaml).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Only check that rules load and lower (syntax, modifiers, conditions).
    #[arg(long)]
    pub syntax: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Lowest severity shown (default: warning, or `severity` in .sigil.toml).
    #[arg(long, value_parser = parse_severity)]
    pub severity: Option<Severity>,
    /// Lowest severity that makes the run fail with exit code 1 (default: warning).
    #[arg(long, value_parser = parse_severity)]
    pub fail_on: Option<Severity>,
    /// Configuration file (default: .sigil.toml in the current directory or a parent).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Ignore any .sigil.toml.
    #[arg(long, conflicts_with = "config")]
    pub no_config: bool,
    /// Disable a validator (repeatable; adds to the configuration file's list).
    #[arg(long = "disable", value_name = "ID")]
    pub disable: Vec<String>,
    /// Repair mechanical problems in place (tag case, date format, id and status/level case).
    #[arg(long)]
    pub fix: bool,
    /// Colour the text output.
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    pub color: Color,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
    Sarif,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Color {
    Auto,
    Always,
    Never,
}

fn parse_severity(s: &str) -> Result<Severity, String> {
    Severity::parse(s)
        .ok_or_else(|| format!("unknown severity '{s}' (expected info, warning or error)"))
}

pub fn run(args: CheckArgs) -> anyhow::Result<ExitCode> {
    if args.syntax && args.format != Format::Sarif && !args.fix {
        return run_syntax(args);
    }
    run_full(args)
}

/// Per-file outcome of loading and lowering.
struct FileReport {
    path: String,
    ids: Vec<String>,
    documents: usize,
    /// The first `load_errors` of `errors` come from loading, the rest from lowering.
    load_errors: usize,
    errors: Vec<Error>,
}

/// `--syntax` (text or JSON): the original one-line-per-problem output, unchanged.
fn run_syntax(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let files = find_rule_files(&args.paths)?;
    let loaded: Vec<_> = files.par_iter().map(|p| load_file(p)).collect();
    let collection = Collection::from_files(loaded);
    let lowered = collection.lower();

    let mut reports: Vec<FileReport> = collection
        .files
        .iter()
        .map(|f| FileReport {
            path: f.path.to_string(),
            ids: f.documents.iter().map(|d| d.meta().display_id()).collect(),
            documents: f.documents.len(),
            load_errors: f.errors.len(),
            errors: f.errors.clone(),
        })
        .collect();
    let mut orphans = vec![];
    for e in lowered.errors {
        match reports.iter_mut().find(|r| *r.path == *e.file) {
            Some(r) => r.errors.push(e),
            None => orphans.push(e),
        }
    }

    let mut out = std::io::stdout().lock();
    let (mut docs, mut failed_docs, mut nerrors) = (0usize, 0usize, 0usize);
    for r in &mut reports {
        // Documents that failed to load are not in `documents`; those that failed to
        // lower are. Count each failed document once.
        let distinct = |errs: &[Error]| {
            let mut d: Vec<usize> = errs.iter().map(|e| e.document).collect();
            d.sort();
            d.dedup();
            d.len()
        };
        let load_failed = distinct(&r.errors[..r.load_errors]);
        let all_failed = distinct(&r.errors);
        r.errors.sort_by_key(|e| (e.document, e.span));
        docs += r.documents + load_failed;
        failed_docs += all_failed;
        nerrors += r.errors.len();
        match args.format {
            Format::Text => {
                for e in &r.errors {
                    writeln!(out, "{e}")?;
                }
            }
            Format::Json | Format::Sarif => {
                let errors: Vec<_> = r
                    .errors
                    .iter()
                    .map(|e| {
                        serde_json::json!({
                            "line": e.line(),
                            "column": e.column(),
                            "message": e.message(),
                        })
                    })
                    .collect();
                let obj = serde_json::json!({
                    "path": r.path,
                    "ok": r.errors.is_empty(),
                    "rules": r.ids,
                    "errors": errors,
                });
                writeln!(out, "{obj}")?;
            }
        }
    }
    for e in &orphans {
        nerrors += 1;
        writeln!(out, "{e}")?;
    }
    let ok = docs - failed_docs;
    if args.format == Format::Text {
        writeln!(out, "{docs} rules, {ok} ok, {nerrors} errors")?;
    } else {
        eprintln!("{docs} rules, {ok} ok, {nerrors} errors");
    }
    Ok(if nerrors > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn load_config(args: &CheckArgs) -> anyhow::Result<Config> {
    let mut cfg = if args.no_config {
        Config::default()
    } else if let Some(p) = &args.config {
        Config::load(p)?
    } else {
        let cwd = std::env::current_dir().context("current directory")?;
        match Config::discover(&cwd) {
            Some(p) => Config::load(&p)?,
            None => Config::default(),
        }
    };
    for id in &args.disable {
        match sigil_check::registry::validator(id) {
            Some(v) if v.id != sigil_check::SYNTAX => {
                cfg.disabled.insert(id.clone());
            }
            _ => {
                let hint = sigil_check::registry::suggest(id)
                    .map(|s| format!(" (did you mean '{s}'?)"))
                    .unwrap_or_default();
                anyhow::bail!(
                    "--disable: unknown validator '{id}'{hint}; see `sigil list validators`"
                );
            }
        }
    }
    Ok(cfg)
}

/// Everything found in one run: the collection, its findings (syntax errors included)
/// and the number of documents.
struct Run {
    collection: Collection,
    findings: Vec<Finding>,
    documents: usize,
}

fn analyse(args: &CheckArgs, config: &Config) -> anyhow::Result<Run> {
    let files = find_rule_files(&args.paths)?;
    // Syntax only: load and lower. Otherwise load, lower and validate file by file.
    let (collection, errors, validated) = if args.syntax {
        let loaded: Vec<_> = files.par_iter().map(|p| load_file(p)).collect();
        let collection = Collection::from_files(loaded);
        let mut lowered = collection.lower();
        let errors = std::mem::take(&mut lowered.errors);
        // Needed no further, and the process ends soon: not freed one node at a time.
        std::mem::forget(lowered);
        (collection, errors, None)
    } else {
        let checked = sigil_check::check_files(&files, config);
        (checked.collection, checked.errors, Some(checked.findings))
    };
    let mut findings: Vec<Finding> = collection
        .load_errors()
        .chain(errors.iter())
        .map(Finding::from_error)
        .collect();
    // Documents that failed to load are not in `documents`; count each once.
    let mut documents = 0;
    for f in &collection.files {
        let mut failed: Vec<usize> = f.errors.iter().map(|e| e.document).collect();
        failed.sort();
        failed.dedup();
        documents += f.documents.len() + failed.len();
    }
    if let Some(mut v) = validated {
        let broken: std::collections::HashSet<(&str, usize)> =
            findings.iter().map(|f| (&*f.file, f.document)).collect();
        // A regex that does not compile is already a lowering (syntax) error.
        v.retain(|f| !(f.validator == "regex_invalid" && broken.contains(&(&*f.file, f.document))));
        drop(broken);
        findings.extend(v);
    }
    Ok(Run {
        collection,
        findings,
        documents,
    })
}

fn run_full(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let config = load_config(&args)?;
    let shown = args
        .severity
        .or(config.severity)
        .unwrap_or(Severity::Warning);
    let fail_on = args.fail_on.or(config.fail_on).unwrap_or(Severity::Warning);
    let mut run = analyse(&args, &config)?;
    if args.fix {
        let (fixed, files) = apply_fixes(&mut run, shown)?;
        if fixed > 0 {
            eprintln!("sigil: fixed {fixed} problem(s) in {files} file(s)");
            run = analyse(&args, &config)?;
        }
    }
    let Run {
        collection,
        mut findings,
        documents,
    } = run;
    findings.retain(|f| f.severity >= shown);
    sigil_check::resolve_spans(&collection, &mut findings);
    findings.sort_by(|a, b| {
        (
            &*a.file,
            a.document,
            a.span.map(|s| (s.line, s.column)),
            a.validator,
        )
            .cmp(&(
                &*b.file,
                b.document,
                b.span.map(|s| (s.line, s.column)),
                b.validator,
            ))
    });
    findings.dedup();

    let color = match args.color {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    };
    let mut out = std::io::stdout().lock();
    let count = |s: Severity| findings.iter().filter(|f| f.severity == s).count();
    let (ne, nw, ni) = (
        count(Severity::Error),
        count(Severity::Warning),
        count(Severity::Info),
    );
    let mut bad_docs: Vec<(&str, usize)> =
        findings.iter().map(|f| (&*f.file, f.document)).collect();
    bad_docs.sort();
    bad_docs.dedup();
    let ok = documents.saturating_sub(bad_docs.len());
    let summary = format!("{documents} rules, {ok} ok, {ne} errors, {nw} warnings, {ni} info");
    match args.format {
        Format::Text => {
            for f in &findings {
                let src = collection
                    .files
                    .iter()
                    .find(|x| x.path == f.file)
                    .map(|x| &*x.source)
                    .unwrap_or("");
                writeln!(out, "{}", sigil_check::render::text(f, src, color))?;
            }
            writeln!(out, "{summary}")?;
        }
        Format::Json => {
            for file in &collection.files {
                let mine: Vec<&Finding> = findings.iter().filter(|f| f.file == file.path).collect();
                let obj = serde_json::json!({
                    "path": &*file.path,
                    "ok": !mine.iter().any(|f| f.severity >= fail_on),
                    "rules": file.documents.iter().map(|d| d.meta().display_id()).collect::<Vec<_>>(),
                    "errors": mine.iter().map(|f| sigil_check::render::json(f)).collect::<Vec<_>>(),
                });
                writeln!(out, "{obj}")?;
            }
            eprintln!("{summary}");
        }
        Format::Sarif => {
            writeln!(
                out,
                "{}",
                serde_json::to_string_pretty(&sigil_check::render::sarif(&findings))?
            )?;
            eprintln!("{summary}");
        }
    }
    let code = if findings.iter().any(|f| f.severity >= fail_on) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    };
    // The process ends here: freeing every AST and IR one by one costs more than the OS
    // takes to reclaim the memory.
    std::mem::forget((collection, findings));
    Ok(code)
}

/// Apply every fix of a finding at or above `shown`, file by file (temporary file and
/// atomic rename). Returns (fixes applied, files written).
fn apply_fixes(run: &mut Run, shown: Severity) -> anyhow::Result<(usize, usize)> {
    let mut fixable: Vec<Finding> = run
        .findings
        .iter()
        .filter(|f| f.fix.is_some() && f.severity >= shown)
        .cloned()
        .collect();
    sigil_check::resolve_spans(&run.collection, &mut fixable);
    let (mut applied, mut written) = (0, 0);
    for file in &run.collection.files {
        let mine: Vec<&Finding> = fixable.iter().filter(|f| f.file == file.path).collect();
        if mine.is_empty() {
            continue;
        }
        let outcome = sigil_check::fix::apply(&file.source, &mine);
        if outcome.skipped > 0 {
            eprintln!(
                "sigil: {}: {} fix(es) skipped: the text was not where expected",
                file.path, outcome.skipped
            );
        }
        if outcome.applied > 0 {
            // The byte-order mark the loader removed goes back where it was.
            let text = match file.bom {
                true => format!("\u{feff}{}", outcome.text),
                false => outcome.text,
            };
            crate::atomic::write_atomic(std::path::Path::new(&*file.path), text.as_bytes(), true)
                .with_context(|| format!("writing {}", file.path))?;
            applied += outcome.applied;
            written += 1;
        }
    }
    Ok((applied, written))
}
