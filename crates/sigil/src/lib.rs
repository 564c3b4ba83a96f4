//! sigil: Sigma detection rules in Rust.
//!
//! This crate is the front door for embedding: load a rule from YAML, convert it to a
//! Lucene / Elasticsearch `query_string` query or to SQL, or compile it into an in-process
//! matcher. The building blocks are re-exported ([`core`], [`lucene`], [`sql`],
//! [`matcher`], [`pipeline`]) for everything else (pipelines, output formats, correlation
//! rules, rule sets with a shared prefilter).
//!
//! ```
//! let rule = sigil::Rule::from_yaml(r#"
//! title: STS Get Caller Identity
//! logsource: { product: aws, service: cloudtrail }
//! detection:
//!     selection:
//!         eventSource: sts.amazonaws.com
//!         eventName: GetCallerIdentity
//!     condition: selection
//! "#)?;
//!
//! assert_eq!(
//!     rule.to_lucene()?,
//!     "eventSource:sts.amazonaws.com AND eventName:GetCallerIdentity"
//! );
//! assert_eq!(
//!     rule.to_sql(sigil::Dialect::Sqlite)?,
//!     r#"SELECT * FROM "events" WHERE "eventSource" LIKE 'sts.amazonaws.com' AND "eventName" LIKE 'GetCallerIdentity'"#
//! );
//!
//! let matcher = rule.compile_matcher()?;
//! let event = serde_json::json!({
//!     "eventSource": "sts.amazonaws.com",
//!     "eventName": "GetCallerIdentity",
//! });
//! assert!(matcher.matches(&event));
//! # Ok::<(), sigil::Error>(())
//! ```

use std::path::Path;
use std::sync::Arc;

use rayon::prelude::*;
use sigil_core::backend::{Backend, BackendOptions};

pub use sigil_core as core;
pub use sigil_lucene as lucene;
pub use sigil_match as matcher;
pub use sigil_pipeline as pipeline;
pub use sigil_sql as sql;

pub use sigil_core::{Expr, RuleIr, RuleMeta};
pub use sigil_match::CompiledRule;
pub use sigil_sql::Dialect;

/// Everything that can go wrong, with the rule named in the message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The YAML did not load or lower; one located message per problem
    /// (`file:line:col: error: ...`).
    #[error("{}", .0.join("\n"))]
    Invalid(Vec<String>),
    /// The YAML holds no detection rule (only filters or correlations, or nothing).
    #[error("{0}: no detection rule in the document(s)")]
    NoRule(String),
    /// The target cannot express the rule (or the conversion failed).
    #[error(transparent)]
    Convert(#[from] sigil_core::backend::ConvertError),
    /// The rule cannot be compiled into a matcher.
    #[error(transparent)]
    Match(#[from] sigil_match::MatchError),
    /// A backend rejected its options.
    #[error("{0}")]
    Options(String),
}

/// One lowered detection rule: what the backends convert.
///
/// Cheap to clone (the IR is shared).
#[derive(Clone, Debug)]
pub struct Rule {
    ir: Arc<RuleIr>,
}

impl Rule {
    /// Load one rule from YAML text. Filters and correlation rules in the same text are
    /// ignored (use [`RuleSet`] or [`core::collection`] for those); with several rules,
    /// the first is taken.
    ///
    /// ```
    /// let err = sigil::Rule::from_yaml("title: x\ndetection: {sel: {a: 1}, condition: sle}\nlogsource: {product: p}\n")
    ///     .unwrap_err();
    /// assert_eq!(
    ///     err.to_string(),
    ///     "<rule>:2:37: error: search identifier 'sle' is not defined in 'detection' (did you mean 'sel'?)"
    /// );
    /// ```
    pub fn from_yaml(yaml: &str) -> Result<Rule, Error> {
        Self::from_yaml_named(yaml, "<rule>")
    }

    /// As [`Rule::from_yaml`], naming the source (e.g. a file name) in error messages.
    pub fn from_yaml_named(yaml: &str, name: &str) -> Result<Rule, Error> {
        let (lowered, errors) = lower_files(vec![sigil_core::load::load_str(yaml, name)]);
        if !errors.is_empty() {
            return Err(Error::Invalid(errors));
        }
        let ir = lowered
            .rules
            .into_iter()
            .next()
            .ok_or_else(|| Error::NoRule(name.to_string()))?;
        Ok(Rule { ir: Arc::new(ir) })
    }

    /// Wrap an already lowered rule (e.g. after a processing pipeline).
    pub fn from_ir(ir: RuleIr) -> Rule {
        Rule { ir: Arc::new(ir) }
    }

    /// The lowered rule.
    pub fn ir(&self) -> &RuleIr {
        &self.ir
    }

    /// Title, id, level, tags, ...
    pub fn meta(&self) -> &RuleMeta {
        &self.ir.meta
    }

    /// The rule as a Lucene / Elasticsearch `query_string` query, with the default
    /// options (case-insensitive matching as Sigma means it). A rule with several
    /// conditions gives one query per line.
    pub fn to_lucene(&self) -> Result<String, Error> {
        let backend =
            sigil_lucene::LuceneBackend::new(&BackendOptions::default()).map_err(Error::Options)?;
        Ok(backend.convert_rule(&self.ir)?.join("\n"))
    }

    /// The rule as one SQL query (`SELECT * FROM events WHERE ...`, flat table layout) for
    /// a dialect. A rule with several conditions gives one query per line. For other
    /// layouts or tables use [`sql::SqlBackend`] directly.
    ///
    /// ```
    /// let rule = sigil::Rule::from_yaml(
    ///     "title: t\nlogsource: {product: p}\ndetection: {sel: {Image|endswith: '\\cmd.exe'}, condition: sel}\n",
    /// )?;
    /// assert_eq!(
    ///     rule.to_sql(sigil::Dialect::Postgres)?,
    ///     r#"SELECT * FROM "events" WHERE LOWER("Image") LIKE '%\\cmd.exe' ESCAPE '\'"#
    /// );
    /// # Ok::<(), sigil::Error>(())
    /// ```
    pub fn to_sql(&self, dialect: Dialect) -> Result<String, Error> {
        let backend = sigil_sql::SqlBackend::new(dialect);
        Ok(backend.convert_rule(&self.ir)?.join("\n"))
    }

    /// Compile the rule into an in-process matcher over JSON events (or anything
    /// implementing [`matcher::Event`]).
    pub fn compile_matcher(&self) -> Result<CompiledRule, Error> {
        Ok(CompiledRule::compile(&self.ir)?)
    }
}

/// All rules under a directory (recursively, `.yml` / `.yaml`), loaded and lowered in
/// parallel, in path order, with filters applied and correlations resolved.
///
/// Rules that fail to load are reported in [`RuleSet::errors`]; the others are usable.
///
/// ```
/// let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../rules");
/// let set = sigil::RuleSet::from_dir(dir)?;
/// assert!(set.errors().is_empty(), "{:?}", set.errors());
/// assert!(set.len() >= 5);
/// let queries = set.to_lucene();
/// assert!(queries.iter().any(|(rule, q)| {
///     rule.meta().title == "STS Get Caller Identity"
///         && q.as_deref() == Ok("eventSource:*.sts.amazonaws.com AND eventName:GetCallerIdentity")
/// }));
/// # Ok::<(), sigil::Error>(())
/// ```
#[derive(Debug)]
pub struct RuleSet {
    rules: Vec<Rule>,
    lowered: sigil_core::Lowered,
    errors: Vec<String>,
}

impl RuleSet {
    /// Load every rule file under `dir` (a single file works too).
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<RuleSet, Error> {
        let files = sigil_core::collection::find_rule_files(&[dir.as_ref().to_path_buf()])
            .map_err(|e| Error::Invalid(vec![e.to_string()]))?;
        let loaded: Vec<_> = files
            .par_iter()
            .map(|p| sigil_core::load::load_file(p))
            .collect();
        let (lowered, errors) = lower_files(loaded);
        let rules = lowered
            .rules
            .iter()
            .map(|r| Rule::from_ir(r.clone()))
            .collect();
        Ok(RuleSet {
            rules,
            lowered,
            errors,
        })
    }

    /// The rules that loaded, in path order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// One located message per file or rule that failed.
    pub fn errors(&self) -> &[String] {
        &self.errors
    }

    /// Everything lowered: rules, correlation rules, which rules emit their own alerts.
    pub fn lowered(&self) -> &sigil_core::Lowered {
        &self.lowered
    }

    /// Every rule as Lucene, converted in parallel, in rule order.
    pub fn to_lucene(&self) -> Vec<(&Rule, Result<String, Error>)> {
        self.rules.par_iter().map(|r| (r, r.to_lucene())).collect()
    }

    /// Every rule as SQL for a dialect, converted in parallel, in rule order.
    pub fn to_sql(&self, dialect: Dialect) -> Vec<(&Rule, Result<String, Error>)> {
        self.rules
            .par_iter()
            .map(|r| (r, r.to_sql(dialect)))
            .collect()
    }

    /// A matcher over all rules with a shared literal prefilter, plus the rules that could
    /// not be compiled.
    pub fn compile_matcher(&self) -> (matcher::RuleSet, Vec<sigil_match::MatchError>) {
        matcher::RuleSet::new(&self.lowered.rules)
    }
}

/// Lower loaded files as one collection; every load and lowering error as a located message.
fn lower_files(files: Vec<sigil_core::load::LoadedFile>) -> (sigil_core::Lowered, Vec<String>) {
    let collection = sigil_core::Collection::from_files(files);
    let lowered = collection.lower();
    let errors = collection
        .load_errors()
        .chain(lowered.errors.iter())
        .map(|e| e.to_string())
        .collect();
    (lowered, errors)
}
