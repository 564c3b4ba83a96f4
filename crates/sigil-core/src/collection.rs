//! A set of loaded documents across files: filters applied to the rules they name,
//! correlation references resolved, everything lowered.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use indexmap::IndexMap;
use rayon::prelude::*;

use crate::ast::*;
use crate::error::{Error, ErrorKind};
use crate::ir::{Expr, RuleIr};
use crate::load::{load_file, LoadedFile};
use crate::lower::{lower_detection, lower_rule};

/// What a correlation refers to, after resolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuleRef {
    /// Index into [`Lowered::rules`].
    Rule(usize),
    /// Index into [`Lowered::correlations`] (correlations may chain).
    Correlation(usize),
}

/// A correlation rule with its references resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct CorrelationIr {
    pub meta: Arc<RuleMeta>,
    pub kind: CorrelationType,
    /// Resolved references, in the order of `rules:` (matters for `temporal_ordered`).
    pub refs: Vec<RuleRef>,
    /// The names used in `rules:`, parallel to `refs` (for extended conditions and aliases).
    pub ref_names: Vec<String>,
    pub group_by: Vec<String>,
    /// `alias -> (index into refs -> field)`.
    pub aliases: IndexMap<String, Vec<(usize, String)>>,
    pub timespan_secs: u64,
    pub condition: CorrelationCondition,
    pub generate: bool,
}

/// All documents of a rule set, lowered. Rules keep their load order.
#[derive(Clone, Debug, Default)]
pub struct Lowered {
    pub rules: Vec<RuleIr>,
    pub correlations: Vec<CorrelationIr>,
    /// Whether each rule should produce its own query/alert (false when only referenced by
    /// correlations with `generate: false`).
    pub emit: Vec<bool>,
    pub errors: Vec<Error>,
}

/// Documents loaded from any number of files.
#[derive(Clone, Debug, Default)]
pub struct Collection {
    pub files: Vec<LoadedFile>,
}

/// Every `.yml`/`.yaml` file under the paths (files are taken as given), sorted, so runs
/// are reproducible.
pub fn find_rule_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, Error> {
    let mut out = vec![];
    for p in paths {
        if p.is_dir() {
            walk(p, &mut out)
                .map_err(|e| Error::new(ErrorKind::Io(format!("{}: {e}", p.display()))))?;
        } else if p.exists() {
            out.push(p.clone());
        } else {
            return Err(Error::new(ErrorKind::Io(format!(
                "{}: no such file or directory",
                p.display()
            ))));
        }
    }
    sort_dedup_paths(&mut out);
    Ok(out)
}

/// `paths.sort(); paths.dedup()`, faster: `Path`'s ordering and equality re-parse both paths
/// into components on every comparison, which dominated a run over the 3,000 SigmaHQ rules.
/// Each path is encoded once as a byte key that orders as its component list does (per
/// component: the variant's rank as in `Component`'s derived order, the bytes, a 0
/// terminator, which no Unix name contains); keys are compared with `memcmp`, stably, and
/// equal keys are equal paths.
fn sort_dedup_paths(paths: &mut Vec<PathBuf>) {
    use std::path::Component as C;
    let key = |p: &PathBuf| -> Vec<u8> {
        let mut k = Vec::with_capacity(p.as_os_str().len() + 8);
        for c in p.components() {
            let (rank, bytes) = match c {
                C::Prefix(x) => (1, x.as_os_str().as_encoded_bytes()),
                C::RootDir => (2, &b""[..]),
                C::CurDir => (3, &b""[..]),
                C::ParentDir => (4, &b""[..]),
                C::Normal(x) => (5, x.as_encoded_bytes()),
            };
            k.push(rank);
            k.extend_from_slice(bytes);
            k.push(0);
        }
        k
    };
    let mut keyed: Vec<(Vec<u8>, PathBuf)> = std::mem::take(paths)
        .into_iter()
        .map(|p| (key(&p), p))
        .collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    keyed.dedup_by(|a, b| a.0 == b.0);
    paths.extend(keyed.into_iter().map(|(_, p)| p));
}

/// Subdirectories are walked in parallel: directory listing is a sequential head before
/// any file is loaded, and on a small VM each listing is a few syscalls.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut subdirs = vec![];
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let ft = entry.file_type()?;
        if ft.is_dir() {
            subdirs.push(path);
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yml") | Some("yaml")
        ) {
            out.push(path);
        }
    }
    let nested: Vec<std::io::Result<Vec<PathBuf>>> = subdirs
        .par_iter()
        .map(|d| {
            let mut v = vec![];
            walk(d, &mut v).map(|()| v)
        })
        .collect();
    for n in nested {
        out.extend(n?);
    }
    Ok(())
}

impl Collection {
    pub fn from_files(files: Vec<LoadedFile>) -> Self {
        Collection { files }
    }

    /// Load every rule file under the paths.
    pub fn load_paths(paths: &[PathBuf]) -> Result<Self, Error> {
        let files = find_rule_files(paths)?;
        Ok(Collection {
            files: files.iter().map(|p| load_file(p)).collect(),
        })
    }

    /// Fill in line and column of errors found after loading (one marked re-parse per
    /// affected file). [`Collection::lower`] already does this for its own errors; this is
    /// for errors found later (validators, pipelines). Located errors are left as they are.
    pub fn resolve_errors(&self, errors: &mut [Error]) {
        let mut files: Vec<&LoadedFile> = vec![];
        for e in errors
            .iter()
            .filter(|e| e.span.is_none() && e.path.is_some())
        {
            if let Some(f) = self.files.iter().find(|f| f.path == e.file) {
                if !files.iter().any(|x| std::ptr::eq(*x, f)) {
                    files.push(f);
                }
            }
        }
        for f in files {
            f.resolve_errors(errors);
        }
    }

    /// Whether any document is a filter or a correlation: then lowering a rule needs the
    /// whole set ([`Collection::lower`]), not only its own file ([`lower_file`]).
    pub fn has_set_level_documents(&self) -> bool {
        self.documents()
            .any(|d| matches!(d, Document::Filter(_) | Document::Correlation(_)))
    }

    pub fn documents(&self) -> impl Iterator<Item = &Document> {
        self.files.iter().flat_map(|f| f.documents.iter())
    }

    pub fn load_errors(&self) -> impl Iterator<Item = &Error> {
        self.files.iter().flat_map(|f| f.errors.iter())
    }

    /// Lower all rules, apply filters, resolve correlations. The errors come located (line
    /// and column filled in; a marked re-parse only for files that have errors).
    pub fn lower(&self) -> Lowered {
        let mut out = Lowered::default();
        let rules: Vec<&Rule> = self
            .documents()
            .filter_map(|d| match d {
                Document::Rule(r) => Some(r),
                _ => None,
            })
            .collect();
        let filters: Vec<&Filter> = self
            .documents()
            .filter_map(|d| match d {
                Document::Filter(f) => Some(f),
                _ => None,
            })
            .collect();
        let correlations: Vec<&Correlation> = self
            .documents()
            .filter_map(|d| match d {
                Document::Correlation(c) => Some(c),
                _ => None,
            })
            .collect();

        let mut lowered_filters = Vec::with_capacity(filters.len());
        for f in &filters {
            match lower_filter(f) {
                Ok(e) => lowered_filters.push(Some(e)),
                Err(errs) => {
                    out.errors.extend(errs);
                    lowered_filters.push(None);
                }
            }
        }

        // Rules lower independently: in parallel, results kept in load order.
        let results: Vec<Result<RuleIr, Vec<Error>>> =
            rules.par_iter().map(|r| lower_rule_located(r)).collect();
        for (r, result) in rules.iter().zip(results) {
            match result {
                Ok(mut ir) => {
                    for (f, fe) in filters.iter().zip(&lowered_filters) {
                        let Some(fe) = fe else { continue };
                        if applies(f, r) {
                            ir.conditions = ir
                                .conditions
                                .into_iter()
                                .map(|c| Expr::and([c, fe.clone()]))
                                .collect();
                        }
                    }
                    out.rules.push(ir);
                }
                Err(errs) => out.errors.extend(errs),
            }
        }
        out.emit = vec![true; out.rules.len()];

        // Name → reference. Ids are matched in canonical form, names verbatim.
        let mut by_name: HashMap<String, RuleRef> = HashMap::new();
        for (i, r) in out.rules.iter().enumerate() {
            if let Some(id) = r.meta.id {
                by_name.insert(id.to_string(), RuleRef::Rule(i));
            }
            if let Some(n) = &r.meta.name {
                by_name.insert(n.clone(), RuleRef::Rule(i));
            }
        }
        // Correlations may reference correlations defined anywhere: register all first.
        for (i, c) in correlations.iter().enumerate() {
            if let Some(id) = c.meta.id {
                by_name.insert(id.to_string(), RuleRef::Correlation(i));
            }
            if let Some(n) = &c.meta.name {
                by_name.insert(n.clone(), RuleRef::Correlation(i));
            }
        }
        let mut corr_index_map = vec![None; correlations.len()];
        for (i, c) in correlations.iter().enumerate() {
            match resolve_correlation(c, &by_name) {
                Ok(ir) => {
                    corr_index_map[i] = Some(out.correlations.len());
                    out.correlations.push(ir);
                }
                Err(e) => out.errors.push(locate(e, &c.meta)),
            }
        }
        // Re-point correlation→correlation references at their lowered positions.
        let mut dangling = vec![];
        for (ci, c) in out.correlations.iter_mut().enumerate() {
            for r in &mut c.refs {
                if let RuleRef::Correlation(j) = r {
                    match corr_index_map[*j] {
                        Some(k) => *j = k,
                        None => dangling.push(ci),
                    }
                }
            }
        }
        if !dangling.is_empty() {
            dangling.sort();
            dangling.dedup();
            for ci in dangling.into_iter().rev() {
                let c = out.correlations.remove(ci);
                out.errors.push(locate(
                    Error::at(
                        ErrorKind::Reference(
                            "references a correlation rule that failed to load".into(),
                        ),
                        YamlPath::of(&["correlation", "rules"]),
                    ),
                    &c.meta,
                ));
            }
        }
        if has_cycle(&out.correlations) {
            out.errors.push(Error::new(ErrorKind::Reference(
                "correlation rules reference each other in a cycle".into(),
            )));
            out.correlations.clear();
        }
        for c in &out.correlations {
            if !c.generate {
                for r in &c.refs {
                    if let RuleRef::Rule(i) = r {
                        out.emit[*i] = false;
                    }
                }
            }
        }
        self.resolve_errors(&mut out.errors);
        out
    }
}

/// Lower one file's rules and filter detections on their own, with located errors: what
/// [`Collection::lower`] gives for them when the set holds no filter and no correlation
/// documents ([`Collection::has_set_level_documents`]), filters not applied. For work
/// that goes file by file (`sigil check` loads, lowers and validates each file in one
/// parallel pass, and drops the IR as soon as the file is checked).
pub fn lower_file(file: &LoadedFile) -> (Vec<RuleIr>, Vec<Error>) {
    let mut rules = vec![];
    let mut errors = vec![];
    for d in &file.documents {
        match d {
            Document::Rule(r) => match lower_rule_located(r) {
                Ok(ir) => rules.push(ir),
                Err(errs) => errors.extend(errs),
            },
            Document::Filter(f) => {
                if let Err(errs) = lower_filter(f) {
                    errors.extend(errs);
                }
            }
            Document::Correlation(_) => {}
        }
    }
    file.resolve_errors(&mut errors);
    (rules, errors)
}

/// [`lower_rule`], its errors naming the rule's file and document.
fn lower_rule_located(r: &Rule) -> Result<RuleIr, Vec<Error>> {
    lower_rule(r).map_err(|errs| errs.into_iter().map(|e| locate(e, &r.meta)).collect())
}

/// A filter's detection as one expression (its conditions AND-ed), errors located.
fn lower_filter(f: &Filter) -> Result<Expr, Vec<Error>> {
    lower_detection(&f.detection)
        .map(Expr::and)
        .map_err(|errs| errs.into_iter().map(|e| locate(e, &f.meta)).collect())
}

fn has_cycle(corrs: &[CorrelationIr]) -> bool {
    fn visit(i: usize, corrs: &[CorrelationIr], state: &mut [u8]) -> bool {
        if state[i] == 1 {
            return true;
        }
        if state[i] == 2 {
            return false;
        }
        state[i] = 1;
        for r in &corrs[i].refs {
            if let RuleRef::Correlation(j) = r {
                if *j < corrs.len() && visit(*j, corrs, state) {
                    return true;
                }
            }
        }
        state[i] = 2;
        false
    }
    let mut state = vec![0u8; corrs.len()];
    (0..corrs.len()).any(|i| visit(i, corrs, &mut state))
}

fn applies(f: &Filter, r: &Rule) -> bool {
    let named = match &f.targets {
        FilterTargets::Any => true,
        FilterTargets::Rules(list) => list.iter().any(|t| {
            r.meta
                .id
                .is_some_and(|id| id.to_string() == t.to_ascii_lowercase())
                || r.meta.name.as_deref() == Some(t.as_str())
        }),
    };
    named && r.logsource.is_within(&f.logsource)
}

fn locate(mut e: Error, meta: &RuleMeta) -> Error {
    e.file = meta.source.path.clone();
    e.document = meta.source.document;
    e
}

fn resolve_correlation(
    c: &Correlation,
    by_name: &HashMap<String, RuleRef>,
) -> Result<CorrelationIr, Error> {
    let mut refs = Vec::with_capacity(c.rules.len());
    for (i, name) in c.rules.iter().enumerate() {
        let key = crate::load::parse_uuid(name)
            .map(|u| u.to_string())
            .unwrap_or_else(|| name.clone());
        match by_name.get(&key) {
            Some(r) => refs.push(*r),
            None => {
                return Err(Error::at(
                    ErrorKind::Reference(format!(
                        "correlation refers to rule '{name}', which is not in the rule set"
                    )),
                    YamlPath::of(&["correlation", "rules"]).index(i),
                ))
            }
        }
    }
    if let CorrelationCondition::Extended(e) = &c.condition {
        let mut names = vec![];
        collect_names(e, &mut names);
        for n in &names {
            if !c.rules.contains(n) {
                return Err(Error::at(
                    ErrorKind::Reference(format!(
                        "the condition names '{n}', which is not listed in 'rules'"
                    )),
                    YamlPath::of(&["correlation", "condition"]),
                ));
            }
        }
        for r in &c.rules {
            if !names.contains(r) {
                return Err(Error::at(
                    ErrorKind::Reference(format!(
                        "rule '{r}' is listed in 'rules' but not used in the condition"
                    )),
                    YamlPath::of(&["correlation", "condition"]),
                ));
            }
        }
    }
    let mut aliases = IndexMap::new();
    for (alias, per_rule) in &c.aliases {
        let mut v = vec![];
        for (rule, field) in per_rule {
            match c.rules.iter().position(|r| r == rule) {
                Some(i) => v.push((i, field.clone())),
                None => {
                    return Err(Error::at(
                        ErrorKind::Reference(format!(
                            "alias '{alias}' maps rule '{rule}', which is not listed in 'rules'"
                        )),
                        YamlPath::of(&["correlation", "aliases", alias]),
                    ))
                }
            }
        }
        aliases.insert(alias.clone(), v);
    }
    Ok(CorrelationIr {
        meta: c.meta.clone(),
        kind: c.kind,
        refs,
        ref_names: c.rules.clone(),
        group_by: c.group_by.clone(),
        aliases,
        timespan_secs: c.timespan.as_ref().map(|t| t.seconds).unwrap_or(0),
        condition: c.condition.clone(),
        generate: c.generate,
    })
}

fn collect_names(e: &ExtendedCond, out: &mut Vec<String>) {
    match e {
        ExtendedCond::Rule(n) => {
            if !out.contains(n) {
                out.push(n.clone())
            }
        }
        ExtendedCond::Not(x) => collect_names(x, out),
        ExtendedCond::And(v) | ExtendedCond::Or(v) => v.iter().for_each(|x| collect_names(x, out)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The fast sort orders and deduplicates paths exactly as `Vec<PathBuf>`'s `sort`
        /// and `dedup` (the same spelling kept among equal paths).
        #[test]
        fn sort_paths_equals_path_ordering(
            v in proptest::collection::vec("(/|\\./)?([a.-]{1,3}//?){0,3}[a.b-]{0,3}", 0..24)
        ) {
            let mut expected: Vec<PathBuf> = v.iter().map(PathBuf::from).collect();
            let mut ours = expected.clone();
            expected.sort();
            expected.dedup();
            sort_dedup_paths(&mut ours);
            let spelled = |v: &[PathBuf]| v.iter().map(|p| p.as_os_str().to_owned()).collect::<Vec<_>>();
            proptest::prop_assert_eq!(spelled(&ours), spelled(&expected));
        }
    }
}
