//! The faithful syntax tree: what the author wrote, typed, with enough location data to
//! point back into the YAML source.
//!
//! Nothing here is normalized: search identifiers keep their order and names, detection
//! items keep the raw key (`Image|endswith`) and their typed modifier chain, values keep
//! their escapes. Lowering ([`crate::lower`]) turns this into the IR.

use std::fmt;
use std::sync::Arc;

use indexmap::IndexMap;

use crate::condition::Cond;
use crate::modifiers::Modifier;

/// Where a document came from: file path (or a label such as `<stdin>`) and the index of
/// the YAML document inside a multi-document file.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct Source {
    pub path: Arc<str>,
    pub document: usize,
}

/// A 1-based line and column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Span {
    pub line: u32,
    pub column: u32,
}

/// One step of a path into a YAML document; used to locate nodes lazily (see
/// [`crate::locate`]).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PathSeg {
    /// Shared: a path is copied for every node below it, and copies of a key are
    /// reference counts, not allocations.
    Key(Arc<str>),
    Index(usize),
}

/// A path from the document root to a node. `key_of_last` means "point at the key of the
/// last map entry, not at its value" (e.g. for an unknown modifier in `Image|contians`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct YamlPath {
    pub segs: Vec<PathSeg>,
    pub at_key: bool,
}

impl YamlPath {
    pub fn root() -> Self {
        YamlPath::default()
    }
    pub fn key(&self, k: &str) -> Self {
        self.with(PathSeg::Key(Arc::from(k)))
    }
    pub fn index(&self, i: usize) -> Self {
        self.with(PathSeg::Index(i))
    }
    /// A copy one segment longer, allocated once at its final size (every detection item
    /// keeps its path, so this runs tens of thousands of times per corpus).
    fn with(&self, seg: PathSeg) -> Self {
        let mut segs = Vec::with_capacity(self.segs.len() + 1);
        segs.extend(self.segs.iter().cloned());
        segs.push(seg);
        YamlPath {
            segs,
            at_key: false,
        }
    }
    /// The same path, pointing at the key of its last segment.
    pub fn at_key(mut self) -> Self {
        self.at_key = true;
        self
    }
    pub fn of(segs: &[&str]) -> Self {
        YamlPath {
            segs: segs.iter().map(|s| PathSeg::Key(Arc::from(*s))).collect(),
            at_key: false,
        }
    }
}

impl fmt::Display for YamlPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.segs.is_empty() {
            return f.write_str("<document>");
        }
        for (i, s) in self.segs.iter().enumerate() {
            match s {
                PathSeg::Key(k) => {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    f.write_str(k)?
                }
                PathSeg::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// Rule status (spec enum; input is case-insensitive as in pySigma).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Status {
    Unsupported,
    Deprecated,
    Experimental,
    Test,
    Stable,
}

impl Status {
    pub const ALL: [Status; 5] = [
        Status::Unsupported,
        Status::Deprecated,
        Status::Experimental,
        Status::Test,
        Status::Stable,
    ];
    pub fn name(self) -> &'static str {
        match self {
            Status::Unsupported => "unsupported",
            Status::Deprecated => "deprecated",
            Status::Experimental => "experimental",
            Status::Test => "test",
            Status::Stable => "stable",
        }
    }
}

/// Rule level, ordered from least to most severe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    Informational,
    Low,
    Medium,
    High,
    Critical,
}

impl Level {
    pub const ALL: [Level; 5] = [
        Level::Informational,
        Level::Low,
        Level::Medium,
        Level::High,
        Level::Critical,
    ];
    pub fn name(self) -> &'static str {
        match self {
            Level::Informational => "informational",
            Level::Low => "low",
            Level::Medium => "medium",
            Level::High => "high",
            Level::Critical => "critical",
        }
    }
}

/// `related[].type`. `correlation` is a pySigma extension kept for compatibility.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RelationType {
    Derived,
    Obsolete,
    Merged,
    Renamed,
    Similar,
    Correlation,
}

impl RelationType {
    pub fn name(self) -> &'static str {
        match self {
            RelationType::Derived => "derived",
            RelationType::Obsolete => "obsolete",
            RelationType::Merged => "merged",
            RelationType::Renamed => "renamed",
            RelationType::Similar => "similar",
            RelationType::Correlation => "correlation",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Related {
    pub id: uuid::Uuid,
    pub kind: RelationType,
}

/// A calendar date (`YYYY-MM-DD`; the legacy `YYYY/MM/DD` form is accepted as pySigma does,
/// and remembered so `sigil check` can flag it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    pub year: u16,
    pub month: u8,
    pub day: u8,
    pub legacy_slashes: bool,
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// A tag split on its first dot: `attack.t1087.004` → namespace `attack`, name `t1087.004`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Tag {
    pub namespace: String,
    pub name: String,
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.namespace, self.name)
    }
}

/// The log source a rule or filter applies to.
#[derive(Clone, Debug, PartialEq, Eq, Default, Hash)]
pub struct LogSource {
    pub category: Option<String>,
    pub product: Option<String>,
    pub service: Option<String>,
    pub definition: Option<String>,
    /// Keys beyond the four of the spec, kept in order.
    pub custom: Vec<(String, String)>,
}

impl LogSource {
    /// pySigma's containment: every attribute set in `other` equals ours (unset = wildcard).
    pub fn is_within(&self, other: &LogSource) -> bool {
        fn ok(mine: &Option<String>, theirs: &Option<String>) -> bool {
            match theirs {
                None => true,
                Some(t) => mine.as_deref() == Some(t.as_str()),
            }
        }
        ok(&self.category, &other.category)
            && ok(&self.product, &other.product)
            && ok(&self.service, &other.service)
    }
}

impl fmt::Display for LogSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (k, v) in [
            ("category", &self.category),
            ("product", &self.product),
            ("service", &self.service),
        ] {
            if let Some(v) = v {
                if !first {
                    f.write_str(" ")?;
                }
                first = false;
                write!(f, "{k}={v}")?;
            }
        }
        Ok(())
    }
}

/// Metadata shared by rules, filters and correlations.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct RuleMeta {
    pub title: String,
    pub id: Option<uuid::Uuid>,
    pub name: Option<String>,
    pub taxonomy: Option<String>,
    pub related: Vec<Related>,
    pub status: Option<Status>,
    pub description: Option<String>,
    pub license: Option<String>,
    pub references: Vec<String>,
    pub tags: Vec<Tag>,
    pub author: Option<String>,
    pub date: Option<Date>,
    pub modified: Option<Date>,
    pub falsepositives: Vec<String>,
    pub level: Option<Level>,
    pub scope: Vec<String>,
    /// Top-level keys the spec does not define (`regression_tests_path`, `simulation`, ...),
    /// kept as JSON values in source order.
    pub custom: IndexMap<String, serde_json::Value>,
    pub source: Source,
}

impl RuleMeta {
    /// The id as text, or the name, or the title: what reports use to name a rule.
    pub fn display_id(&self) -> String {
        match (&self.id, &self.name) {
            (Some(id), _) => id.to_string(),
            (None, Some(n)) => n.clone(),
            (None, None) => self.title.clone(),
        }
    }
}

/// A raw value from a detection item, before modifiers.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Null,
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Str(s) => write!(f, "'{s}'"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{x}"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Null => f.write_str("null"),
        }
    }
}

/// `field|mod|mod: value(s)` (or a keyword when `field` is `None`).
#[derive(Clone, Debug, PartialEq)]
pub struct DetectionItem {
    /// The field name (text before the first `|`); `None` for keywords and `'|all'` keys.
    pub field: Option<String>,
    pub modifiers: Vec<Modifier>,
    /// Values; several are OR-ed (AND-ed with `all`). Empty means `field: []`, i.e. null.
    pub values: Vec<Value>,
    /// Whether the values were written as a YAML list (matters for `all` with one value).
    pub is_list: bool,
    /// Where the item's key (or, for keywords, its value) is in the document.
    pub path: YamlPath,
}

impl DetectionItem {
    pub fn has(&self, m: Modifier) -> bool {
        self.modifiers.contains(&m)
    }
}

/// What a search identifier stands for.
#[derive(Clone, Debug, PartialEq)]
pub enum Search {
    /// A map: AND of its items.
    AllOf(Vec<DetectionItem>),
    /// A list of maps / keywords: OR of its elements.
    AnyOf(Vec<Search>),
    /// A keyword item (plain scalars under a search identifier).
    Keywords(DetectionItem),
}

/// `detection:`: named searches plus one or more conditions.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Detection {
    pub searches: IndexMap<String, Search>,
    /// Conditions as written (a list yields one query each), with their parse trees.
    pub conditions: Vec<Condition>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Condition {
    pub text: String,
    pub tree: Cond,
    pub path: YamlPath,
}

/// A detection rule.
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    pub meta: Arc<RuleMeta>,
    pub logsource: LogSource,
    pub detection: Detection,
    pub fields: Vec<String>,
}

/// Which rules a filter applies to.
#[derive(Clone, Debug, PartialEq)]
pub enum FilterTargets {
    Any,
    Rules(Vec<String>),
}

/// A Sigma filter (meta rule): an extra condition AND-ed onto the rules it names.
#[derive(Clone, Debug, PartialEq)]
pub struct Filter {
    pub meta: Arc<RuleMeta>,
    pub logsource: LogSource,
    pub targets: FilterTargets,
    pub detection: Detection,
}

/// Correlation types of the spec (v2.1) plus pySigma's `value_median`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CorrelationType {
    EventCount,
    ValueCount,
    Temporal,
    TemporalOrdered,
    ValueSum,
    ValueAvg,
    ValuePercentile,
    ValueMedian,
}

impl CorrelationType {
    pub const ALL: [CorrelationType; 8] = [
        CorrelationType::EventCount,
        CorrelationType::ValueCount,
        CorrelationType::Temporal,
        CorrelationType::TemporalOrdered,
        CorrelationType::ValueSum,
        CorrelationType::ValueAvg,
        CorrelationType::ValuePercentile,
        CorrelationType::ValueMedian,
    ];
    pub fn name(self) -> &'static str {
        match self {
            CorrelationType::EventCount => "event_count",
            CorrelationType::ValueCount => "value_count",
            CorrelationType::Temporal => "temporal",
            CorrelationType::TemporalOrdered => "temporal_ordered",
            CorrelationType::ValueSum => "value_sum",
            CorrelationType::ValueAvg => "value_avg",
            CorrelationType::ValuePercentile => "value_percentile",
            CorrelationType::ValueMedian => "value_median",
        }
    }
    /// Types whose condition reads a field's values.
    pub fn needs_field(self) -> bool {
        !matches!(
            self,
            CorrelationType::EventCount
                | CorrelationType::Temporal
                | CorrelationType::TemporalOrdered
        )
    }
    pub fn is_temporal(self) -> bool {
        matches!(
            self,
            CorrelationType::Temporal | CorrelationType::TemporalOrdered
        )
    }
}

/// Threshold operators of a correlation condition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ThresholdOp {
    Gt,
    Gte,
    Lt,
    Lte,
    Eq,
    Neq,
}

impl ThresholdOp {
    pub fn name(self) -> &'static str {
        match self {
            ThresholdOp::Gt => "gt",
            ThresholdOp::Gte => "gte",
            ThresholdOp::Lt => "lt",
            ThresholdOp::Lte => "lte",
            ThresholdOp::Eq => "eq",
            ThresholdOp::Neq => "neq",
        }
    }
    pub fn symbol(self) -> &'static str {
        match self {
            ThresholdOp::Gt => ">",
            ThresholdOp::Gte => ">=",
            ThresholdOp::Lt => "<",
            ThresholdOp::Lte => "<=",
            ThresholdOp::Eq => "=",
            ThresholdOp::Neq => "!=",
        }
    }
    pub fn holds(self, lhs: f64, rhs: f64) -> bool {
        match self {
            ThresholdOp::Gt => lhs > rhs,
            ThresholdOp::Gte => lhs >= rhs,
            ThresholdOp::Lt => lhs < rhs,
            ThresholdOp::Lte => lhs <= rhs,
            ThresholdOp::Eq => lhs == rhs,
            ThresholdOp::Neq => lhs != rhs,
        }
    }
}

/// `condition:` of a correlation: one or two (a range) thresholds, or for temporal types
/// an extended boolean expression over rule names.
#[derive(Clone, Debug, PartialEq)]
pub enum CorrelationCondition {
    Threshold {
        /// One or two `(op, value)` pairs, all of which must hold.
        bounds: Vec<(ThresholdOp, f64)>,
        /// The field (value_* types), one or more.
        field: Vec<String>,
        /// For `value_percentile`.
        percentile: Option<f64>,
    },
    /// `failed and not success`: a boolean expression over rule names/ids.
    Extended(ExtendedCond),
}

/// The boolean expression of an extended temporal condition.
#[derive(Clone, Debug, PartialEq)]
pub enum ExtendedCond {
    Rule(String),
    Not(Box<ExtendedCond>),
    And(Vec<ExtendedCond>),
    Or(Vec<ExtendedCond>),
}

/// A correlation rule.
#[derive(Clone, Debug, PartialEq)]
pub struct Correlation {
    pub meta: Arc<RuleMeta>,
    pub kind: CorrelationType,
    /// Referenced rules, by id or name, as written.
    pub rules: Vec<String>,
    /// `alias -> (rule -> field)`.
    pub aliases: IndexMap<String, IndexMap<String, String>>,
    pub group_by: Vec<String>,
    /// The time window in seconds, and as written.
    pub timespan: Option<Timespan>,
    pub condition: CorrelationCondition,
    /// Whether the referenced rules also produce their own queries/alerts.
    pub generate: bool,
}

/// A duration such as `90m`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timespan {
    pub seconds: u64,
    pub text: String,
}

/// Any document a Sigma file can hold.
#[derive(Clone, Debug, PartialEq)]
pub enum Document {
    Rule(Rule),
    Filter(Filter),
    Correlation(Correlation),
}

impl Document {
    pub fn meta(&self) -> &Arc<RuleMeta> {
        match self {
            Document::Rule(r) => &r.meta,
            Document::Filter(f) => &f.meta,
            Document::Correlation(c) => &c.meta,
        }
    }
    pub fn kind_name(&self) -> &'static str {
        match self {
            Document::Rule(_) => "rule",
            Document::Filter(_) => "filter",
            Document::Correlation(_) => "correlation",
        }
    }
}
