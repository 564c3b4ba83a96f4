//! sigil-check: validators for Sigma rules (`sigil check`).
//!
//! Every validator has a stable id, a default [`Severity`] and a one-line description
//! ([`registry::VALIDATORS`]). [`check`] runs them over a loaded [`Collection`] (and its
//! lowered form, for the condition analysis) and returns [`Finding`]s that carry a YAML
//! path; [`resolve_spans`] turns paths into line and column with
//! [`sigil_core::locate::Locator`], only for the files that have findings to show.
//! [`check_files`] does the same from file paths in one parallel pass per file (load,
//! lower, validate, drop the IR), which is what `sigil check` runs.
//!
//! Reference data is bundled (see `data/README.md`): MITRE ATT&CK ids and SigmaHQ's
//! `tests/logsource.json`. Nothing touches the network.
//!
//! ```
//! use sigil_core::{load::load_str, Collection};
//! let src = "title: t\nid: b96b69c7-b1d2-44a3-9c53-f419233cac95\nlogsource: {service: cloudtrail}\n\
//!            detection: {sel: {eventName: GetCallerIdentity}, condition: sel}\ntags: [attack.T1087.004]\n";
//! let set = Collection::from_files(vec![load_str(src, "rule.yml")]);
//! let lowered = set.lower();
//! let findings = sigil_check::check(&set, &lowered, &sigil_check::Config::default());
//! let ids: Vec<_> = findings.iter().map(|f| f.validator).collect();
//! assert!(ids.contains(&"logsource_missing_product") && ids.contains(&"tag_case"));
//! ```

use std::collections::BTreeMap;

use hashbrown::HashMap;
use std::fmt;
use std::hash::BuildHasher;
use std::sync::Arc;

use rayon::prelude::*;
use sigil_core::ast::{Span, YamlPath};
use sigil_core::load::LoadedFile;
use sigil_core::{Collection, Lowered, RuleIr};

pub mod config;
pub mod data;
mod detection;
pub mod fix;
mod meta;
pub mod registry;
pub mod render;
mod text;

pub use config::{Config, ConfigError};
pub use registry::{Validator, SYNTAX, VALIDATORS};

/// How serious a finding is. Ordered: `Info < Warning < Error`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
    pub fn parse(s: &str) -> Option<Severity> {
        match s.to_ascii_lowercase().as_str() {
            "info" | "note" | "low" => Some(Severity::Info),
            "warning" | "warn" | "medium" => Some(Severity::Warning),
            "error" | "high" => Some(Severity::Error),
            _ => None,
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A mechanical repair: replace the scalar text `old` that starts at the finding's span
/// (after an opening quote, if any) with `new`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fix {
    pub old: String,
    pub new: String,
}

/// One problem found by a validator.
#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    pub validator: &'static str,
    pub severity: Severity,
    pub message: String,
    pub help: Option<String>,
    pub file: Arc<str>,
    /// Index of the YAML document inside the file.
    pub document: usize,
    /// Where in the document (resolved to `span` by [`resolve_spans`]).
    pub path: Option<YamlPath>,
    /// Byte offset inside the scalar at `path` (condition findings).
    pub offset: Option<usize>,
    pub span: Option<Span>,
    /// The rule's id (or name), for exemptions and reports.
    pub rule: Option<String>,
    pub fix: Option<Fix>,
}

impl Finding {
    /// A load or lowering error, reported under the [`SYNTAX`] id.
    pub fn from_error(e: &sigil_core::Error) -> Finding {
        Finding {
            validator: SYNTAX,
            severity: Severity::Error,
            message: e.message(),
            help: None,
            file: e.file.clone(),
            document: e.document,
            path: e.path.clone(),
            offset: e.offset,
            span: e.span,
            rule: None,
            fix: None,
        }
    }
}

/// Collects the findings of one document.
pub(crate) struct Ctx<'a> {
    pub file: &'a LoadedFile,
    pub document: usize,
    pub rule: Option<String>,
    pub out: Vec<Finding>,
}

impl Ctx<'_> {
    /// Record a finding at a YAML path; returns it so callers can add help or a fix.
    pub fn push(&mut self, id: &'static str, path: YamlPath, message: String) -> &mut Finding {
        let severity = registry::validator(id).map_or(Severity::Warning, |v| v.severity);
        self.out.push(Finding {
            validator: id,
            severity,
            message,
            help: None,
            file: self.file.path.clone(),
            document: self.document,
            path: Some(path),
            offset: None,
            span: None,
            rule: self.rule.clone(),
            fix: None,
        });
        let n = self.out.len() - 1;
        &mut self.out[n]
    }

    /// Record a finding at a known position (from a text scan).
    pub fn push_at(&mut self, id: &'static str, span: Span, message: String) -> &mut Finding {
        let f = self.push(id, YamlPath::root(), message);
        f.path = None;
        f.span = Some(span);
        f
    }
}

impl Finding {
    pub fn help(&mut self, h: impl Into<String>) -> &mut Self {
        self.help = Some(h.into());
        self
    }
    pub fn fix(&mut self, old: impl Into<String>, new: impl Into<String>) -> &mut Self {
        self.fix = Some(Fix {
            old: old.into(),
            new: new.into(),
        });
        self
    }
}

/// Run every enabled validator over the set. `lowered` must come from `set.lower()`
/// (rules that failed to lower are simply not analysed for constant conditions).
/// Findings are sorted by file and document; configuration (disabled validators,
/// severity overrides, exemptions) is already applied.
pub fn check(set: &Collection, lowered: &Lowered, config: &Config) -> Vec<Finding> {
    let mut by_doc: HashMap<(&str, usize), &RuleIr> = HashMap::new();
    for r in &lowered.rules {
        by_doc.insert((&r.meta.source.path, r.meta.source.document), r);
    }
    let findings: Vec<Finding> = set
        .files
        .par_iter()
        .flat_map_iter(|file| check_file(file, &by_doc))
        .collect();
    finish(set, findings, config)
}

/// Add the set-level findings, apply the configuration, sort.
fn finish(set: &Collection, mut findings: Vec<Finding>, config: &Config) -> Vec<Finding> {
    findings.extend(meta::cross_rule(set, config));
    apply_config(&mut findings, config);
    findings.sort_by(|a, b| {
        (&*a.file, a.document, a.span.map(|s| (s.line, s.column))).cmp(&(
            &*b.file,
            b.document,
            b.span.map(|s| (s.line, s.column)),
        ))
    });
    findings
}

/// What [`check_files`] found.
pub struct Checked {
    /// The loaded files and their load errors. Unless the set holds filter or correlation
    /// documents, rule files are trimmed once validated (see `release`): each rule's
    /// `detection` is empty, and a file with no finding and no error keeps neither its
    /// text (`source` is empty) nor more of its rules' metadata than `title`, `id`,
    /// `name` and `source` (logsource and fields empty too). Read the files with
    /// [`Collection::load_paths`] to keep everything.
    pub collection: Collection,
    /// Lowering errors (rules, filters, correlations), located: what
    /// `collection.lower().errors` holds.
    pub errors: Vec<sigil_core::Error>,
    /// Validator findings, as [`check`] returns them.
    pub findings: Vec<Finding>,
}

/// Load, lower and check files: the result of `Collection` loading, [`Collection::lower`]
/// and [`check`], computed file by file in one parallel pass: each file is lowered and
/// validated while its tree is still in cache, and its IR is dropped right after (no
/// barrier between the stages, a third less memory touched on the SigmaHQ corpus).
/// Lowering a rule on its own is exact unless the set holds filter or correlation
/// documents; then the files are read again and the set is lowered and validated as a
/// whole.
pub fn check_files(paths: &[std::path::PathBuf], config: &Config) -> Checked {
    // Fingerprints of released texts, to tell whether a file read again for a set-level
    // finding is still the one that was checked.
    let hasher = hashbrown::DefaultHashBuilder::default();
    let per_file: Vec<PerFile> = paths
        .par_iter()
        .map_init(sigil_core::load::Opener::default, |opener, p| {
            let mut file = sigil_core::load::load_file_with(opener, p);
            let (rules, errors) = sigil_core::collection::lower_file(&file);
            let findings = {
                let by_doc: HashMap<(&str, usize), &RuleIr> = rules
                    .iter()
                    .map(|r| ((&*r.meta.source.path, r.meta.source.document), r))
                    .collect();
                check_file(&file, &by_doc)
            };
            drop(rules);
            let clean = errors.is_empty() && findings.is_empty() && file.errors.is_empty();
            let released = release(&mut file, clean, &hasher);
            PerFile {
                file,
                errors,
                findings,
                released,
            }
        })
        .collect();
    let mut files = Vec::with_capacity(per_file.len());
    let mut released = Vec::with_capacity(per_file.len());
    let mut errors = vec![];
    let mut findings = vec![];
    for one in per_file {
        files.push(one.file);
        released.push(one.released);
        errors.extend(one.errors);
        findings.extend(one.findings);
    }
    let mut collection = Collection::from_files(files);
    if collection.has_set_level_documents() {
        // Filters and correlations change other rules: read everything again and go the
        // whole-set way (the trimmed files lack their trees and text).
        let collection = Collection::from_files(
            paths
                .par_iter()
                .map(|p| sigil_core::load::load_file(p))
                .collect(),
        );
        let lowered = collection.lower();
        let findings = check(&collection, &lowered, config);
        return Checked {
            errors: lowered.errors,
            collection,
            findings,
        };
    }
    let findings = finish(&collection, findings, config);
    restore_texts(&mut collection, &findings, paths, &released, &hasher);
    Checked {
        collection,
        errors,
        findings,
    }
}

/// One file's outcome in [`check_files`]'s pass.
struct PerFile {
    file: LoadedFile,
    errors: Vec<sigil_core::Error>,
    findings: Vec<Finding>,
    /// The fingerprint of the text, if it was released.
    released: Option<u64>,
}

/// Trim a rule file once validated: the detection trees always (they are most of a large
/// set's memory), and for a `clean` file (no finding, no error) the metadata the report
/// and the set-level validators do not use. Freed on the thread that made them, their
/// memory serves the next file: on SigmaHQ's rules/ half the page faults (each ~2.4 us
/// on a small VM) and ~10% of the run. A clean file's text goes too: its fingerprint is
/// returned (see `restore_texts`). Files holding a filter or correlation are left whole
/// (the set is then read again anyway).
fn release(
    file: &mut LoadedFile,
    clean: bool,
    hasher: &hashbrown::DefaultHashBuilder,
) -> Option<u64> {
    if !rules_only(file) {
        return None;
    }
    for d in &mut file.documents {
        if let sigil_core::Document::Rule(r) = d {
            r.detection = Default::default();
            if clean {
                r.logsource = Default::default();
                r.fields = vec![];
                if let Some(m) = Arc::get_mut(&mut r.meta) {
                    *m = sigil_core::ast::RuleMeta {
                        title: std::mem::take(&mut m.title),
                        id: m.id,
                        name: m.name.take(),
                        source: std::mem::take(&mut m.source),
                        ..Default::default()
                    };
                }
            }
        }
    }
    clean.then(|| {
        let fingerprint = hasher.hash_one(&*file.source);
        file.source = Arc::from("");
        fingerprint
    })
}

/// Read again the text of trimmed files that a set-level finding (a duplicate id, title
/// or file name) points into, so that it can be located and shown. A file that changed
/// since it was checked keeps no text: its finding is reported without a position.
fn restore_texts(
    collection: &mut Collection,
    findings: &[Finding],
    paths: &[std::path::PathBuf],
    released: &[Option<u64>],
    hasher: &hashbrown::DefaultHashBuilder,
) {
    let wanted: hashbrown::HashSet<&str> = findings.iter().map(|f| &*f.file).collect();
    let mut opener = sigil_core::load::Opener::default();
    for ((file, path), fingerprint) in collection.files.iter_mut().zip(paths).zip(released) {
        let Some(fingerprint) = fingerprint else {
            continue;
        };
        if !wanted.contains(&*file.path) {
            continue;
        }
        let again = sigil_core::load::load_file_with(&mut opener, path);
        if hasher.hash_one(&*again.source) == *fingerprint && again.bom == file.bom {
            file.source = again.source;
        }
    }
}

/// A file of rules and nothing else: the files [`release`] trims.
fn rules_only(file: &LoadedFile) -> bool {
    !file.documents.is_empty()
        && file
            .documents
            .iter()
            .all(|d| matches!(d, sigil_core::Document::Rule(_)))
}

fn check_file(file: &LoadedFile, lowered: &HashMap<(&str, usize), &RuleIr>) -> Vec<Finding> {
    let mut out = vec![];
    let scan = text::TopLevel::scan(&file.source);
    for doc in &file.documents {
        let meta = doc.meta();
        let mut ctx = Ctx {
            file,
            document: meta.source.document,
            rule: meta.id.map(|u| u.to_string()).or_else(|| meta.name.clone()),
            out: vec![],
        };
        meta::check_document(&mut ctx, doc, &scan);
        if let sigil_core::Document::Rule(rule) = doc {
            let ir = lowered.get(&(&*file.path, meta.source.document)).copied();
            detection::check_rule(&mut ctx, rule, ir);
        }
        if let sigil_core::Document::Filter(f) = doc {
            detection::check_detection(&mut ctx, &f.detection, None);
        }
        out.append(&mut ctx.out);
    }
    out
}

fn apply_config(findings: &mut Vec<Finding>, config: &Config) {
    findings.retain_mut(|f| {
        if f.validator == SYNTAX {
            return true;
        }
        if config.disabled.contains(f.validator) {
            return false;
        }
        if let Some(rule) = &f.rule {
            if let Some(list) = config.exempt.get(rule) {
                if list.iter().any(|v| v == "all" || v == f.validator) {
                    return false;
                }
            }
        }
        if let Some(s) = config.levels.get(f.validator) {
            f.severity = *s;
        }
        true
    });
}

/// Fill in line and column of the findings (one marked re-parse per file that has a
/// finding without a position).
pub fn resolve_spans(set: &Collection, findings: &mut [Finding]) {
    let files: HashMap<&str, &LoadedFile> = set.files.iter().map(|f| (&*f.path, f)).collect();
    let mut locators: BTreeMap<&str, sigil_core::locate::Locator> = BTreeMap::new();
    for f in findings.iter_mut().filter(|f| f.span.is_none()) {
        let (Some(path), Some(file)) = (&f.path, files.get(&*f.file)) else {
            continue;
        };
        let loc = locators
            .entry(&file.path)
            .or_insert_with(|| sigil_core::locate::Locator::new(&file.source));
        f.span = match f.offset {
            Some(off) => loc.locate_in_scalar(f.document, path, off),
            None => loc.locate(f.document, path),
        };
    }
    findings.sort_by(|a, b| {
        (&*a.file, a.document, a.span, a.validator).cmp(&(
            &*b.file,
            b.document,
            b.span,
            b.validator,
        ))
    });
}

#[cfg(test)]
mod restore_tests {
    use super::*;

    /// A trimmed file is given its text back only if it still reads as it did when checked.
    #[test]
    fn changed_files_stay_without_text() {
        let dir = std::env::temp_dir().join(format!("sigil-restore-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let text = "title: T\nlogsource:\n    product: windows\n";
        let paths: Vec<std::path::PathBuf> = ["same.yml", "changed.yml"]
            .iter()
            .map(|n| dir.join(n))
            .collect();
        for p in &paths {
            std::fs::write(p, text).unwrap();
        }
        let hasher = hashbrown::DefaultHashBuilder::default();
        let mut files: Vec<LoadedFile> = paths
            .iter()
            .map(|p| sigil_core::load::load_file(p))
            .collect();
        let fingerprints: Vec<Option<u64>> = files
            .iter()
            .map(|f| Some(hasher.hash_one(&*f.source)))
            .collect();
        for f in &mut files {
            f.source = Arc::from("");
        }
        std::fs::write(&paths[1], "title: T2\nlogsource:\n    product: windows\n").unwrap();
        let mut collection = Collection::from_files(files);
        let findings: Vec<Finding> = collection
            .files
            .iter()
            .map(|f| {
                Finding::from_error(&sigil_core::Error {
                    file: f.path.clone(),
                    ..sigil_core::Error::new(sigil_core::error::ErrorKind::Empty)
                })
            })
            .collect();
        restore_texts(&mut collection, &findings, &paths, &fingerprints, &hasher);
        assert_eq!(&*collection.files[0].source, text);
        assert_eq!(&*collection.files[1].source, "");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
