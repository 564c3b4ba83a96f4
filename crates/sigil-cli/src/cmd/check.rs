//! `sigil check`: load, lower and report problems.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use rayon::prelude::*;
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
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
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

pub fn run(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let files = find_rule_files(&args.paths)?;
    let loaded: Vec<_> = files.par_iter().map(|p| load_file(p)).collect();
    let collection = Collection::from_files(loaded);
    let mut lowered = collection.lower();
    collection.resolve_errors(&mut lowered.errors);

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
            Format::Json => {
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
