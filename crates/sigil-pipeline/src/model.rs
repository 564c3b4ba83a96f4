//! The parsed form of a pipeline: processing items with their conditions.

use regex::Regex;
use serde_json::Value as J;
use sigil_core::Expr;

/// How a list of conditions combines.
#[derive(Clone, Debug)]
pub(crate) enum Logic {
    And,
    Or,
    Expr(BExpr),
}

/// `*_cond_expr`: a boolean expression over condition ids (indices into the list).
#[derive(Clone, Debug)]
pub(crate) enum BExpr {
    Id(usize),
    Not(Box<BExpr>),
    And(Box<BExpr>, Box<BExpr>),
    Or(Box<BExpr>, Box<BExpr>),
}

impl BExpr {
    pub fn eval(&self, v: &[bool]) -> bool {
        match self {
            BExpr::Id(i) => v.get(*i).copied().unwrap_or(false),
            BExpr::Not(e) => !e.eval(v),
            BExpr::And(a, b) => a.eval(v) && b.eval(v),
            BExpr::Or(a, b) => a.eval(v) || b.eval(v),
        }
    }
}

/// A set of conditions of one kind with how they combine.
#[derive(Clone, Debug)]
pub(crate) struct Conds<C> {
    pub list: Vec<(String, C)>,
    pub logic: Logic,
    pub negate: bool,
}

impl<C> Default for Conds<C> {
    fn default() -> Self {
        Conds {
            list: vec![],
            logic: Logic::And,
            negate: false,
        }
    }
}

impl<C> Conds<C> {
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// No condition: true. Otherwise the combination, negated with `*_cond_not`.
    pub fn eval(&self, mut f: impl FnMut(&C) -> bool) -> bool {
        if self.list.is_empty() {
            return true;
        }
        let r = match &self.logic {
            Logic::And => self.list.iter().all(|(_, c)| f(c)),
            Logic::Or => self.list.iter().any(|(_, c)| f(c)),
            Logic::Expr(e) => {
                let v: Vec<bool> = self.list.iter().map(|(_, c)| f(c)).collect();
                e.eval(&v)
            }
        };
        r != self.negate
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Eq,
    Ne,
    Gte,
    Gt,
    Lte,
    Lt,
    In,
    NotIn,
}

#[derive(Clone, Debug)]
pub(crate) enum RuleCond {
    Logsource {
        category: Option<String>,
        product: Option<String>,
        service: Option<String>,
    },
    ContainsItem {
        field: Option<String>,
        value: J,
    },
    ContainsField(String),
    Applied(String),
    State {
        key: String,
        val: J,
        op: CmpOp,
    },
    IsRule,
    IsCorrelation,
    Attribute {
        attr: String,
        value: J,
        op: CmpOp,
    },
    Tag(String),
}

#[derive(Clone, Debug)]
pub(crate) enum ItemCond {
    MatchString { re: Regex, negate: bool },
    MatchValue(J),
    ContainsWildcard,
    IsNull,
    Applied(String),
    State { key: String, val: J, op: CmpOp },
}

#[derive(Clone, Debug)]
pub(crate) enum FieldCond {
    Include(FieldSel),
    Exclude(FieldSel),
    Applied(String),
    State { key: String, val: J, op: CmpOp },
}

#[derive(Clone, Debug)]
pub(crate) enum FieldSel {
    Plain(Vec<String>),
    Re(Vec<Regex>),
}

impl FieldSel {
    pub fn matches(&self, field: Option<&str>) -> bool {
        let Some(f) = field else { return false };
        match self {
            FieldSel::Plain(v) => v.iter().any(|x| x == f),
            FieldSel::Re(v) => v.iter().any(|r| r.is_match(f)),
        }
    }
}

/// Which placeholders a placeholder transformation handles.
#[derive(Clone, Debug)]
pub(crate) enum PhSel {
    All,
    Include(Vec<String>),
    Exclude(Vec<String>),
}

impl PhSel {
    pub fn selects(&self, name: &str) -> bool {
        match self {
            PhSel::All => true,
            PhSel::Include(v) => v.iter().any(|n| n == name),
            PhSel::Exclude(v) => !v.iter().any(|n| n == name),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RegexMethod {
    Plain,
    Flag,
    Brackets,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CaseMethod {
    Lower,
    Upper,
    Snake,
}

/// The value `set_value` puts in.
#[derive(Clone, Debug)]
pub(crate) enum NewValue {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Null,
}

#[derive(Clone, Debug)]
pub(crate) enum Transform {
    /// `field_name_mapping`; the key `None` maps keywords to a field.
    FieldMap(Vec<(Option<String>, Vec<String>)>),
    FieldPrefixMap(Vec<(String, Vec<String>)>),
    FieldPrefix(String),
    FieldSuffix(String),
    DropItem,
    HashesFields {
        algos: Vec<String>,
        prefix: String,
        drop_algo: bool,
        fields: Vec<String>,
    },
    ReplaceString {
        re: Regex,
        replacement: String,
        skip_special: bool,
        interpret_special: bool,
    },
    MapString(Vec<(String, Vec<String>)>),
    Regex(RegexMethod),
    SetValue(NewValue),
    ConvertType {
        to_num: bool,
    },
    Case(CaseMethod),
    WildcardPlaceholders(PhSel),
    ValuePlaceholders(PhSel),
    QueryExpressionPlaceholders(PhSel),
    AddCondition {
        /// The `conditions` value, kept as YAML for template substitution.
        conditions: serde_yaml::Value,
        /// Lowered once when no template substitution is needed.
        lowered: Option<Expr>,
        template: bool,
        negated: bool,
    },
    ChangeLogsource {
        category: Option<String>,
        product: Option<String>,
        service: Option<String>,
    },
    SetCustomAttribute {
        attr: String,
        value: J,
    },
    SetState {
        key: String,
        val: J,
    },
    RuleFailure(String),
    ItemFailure(String),
    StrictFieldMapping,
    AddField(Vec<String>),
    RemoveField(Vec<String>),
    SetField(Vec<String>),
    Nest(Vec<Item>),
}

/// One processing item: a transformation and the conditions under which it applies.
#[derive(Clone, Debug)]
pub(crate) struct Item {
    pub id: Option<String>,
    pub t: Transform,
    pub rule_conds: Conds<RuleCond>,
    pub item_conds: Conds<ItemCond>,
    pub field_conds: Conds<FieldCond>,
}

#[derive(Clone, Debug)]
pub(crate) enum PostT {
    Embed { prefix: String, suffix: String },
    SimpleTemplate(Vec<TplPiece>),
    Json(J),
    Replace { re: Regex, replacement: String },
    Nest(Vec<PostItem>),
}

/// A piece of a `simple_template` (Python `str.format` subset).
#[derive(Clone, Debug)]
pub(crate) enum TplPiece {
    Lit(String),
    Query,
    Rule(String),
    PipelineName,
    State(String),
}

#[derive(Clone, Debug)]
pub(crate) struct PostItem {
    pub t: PostT,
    pub rule_conds: Conds<RuleCond>,
}

#[derive(Clone, Debug)]
pub(crate) enum Finalizer {
    Concat {
        separator: String,
        prefix: String,
        suffix: String,
    },
    Json {
        indent: Option<usize>,
    },
    Yaml,
    Nested(Vec<Finalizer>),
}
