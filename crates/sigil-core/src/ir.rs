//! The normalized intermediate representation every backend consumes.
//!
//! The AST ([`crate::ast`]) keeps what the author wrote; the IR keeps what the rule *means*.
//! Modifiers, `x of` selectors, list/map semantics and encodings are all expanded during
//! lowering, so a backend only has to render a small, closed set of leaf predicates combined
//! with `And`, `Or` and `Not`. The smart constructors ([`Expr::and`], [`Expr::or`],
//! [`Expr::not`]) flatten nested operators and fold constants, so two rules that mean the
//! same thing tend to lower to the same tree.

use std::fmt::{self, Write as _};
use std::sync::Arc;

use ipnet::IpNet;

/// A boolean expression over leaf predicates.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// A constant, left over only when a whole condition folds (e.g. `not` of an empty OR).
    Const(bool),
    /// Conjunction of two or more operands (never nested directly in another `And`).
    And(Vec<Expr>),
    /// Disjunction of two or more operands (never nested directly in another `Or`).
    Or(Vec<Expr>),
    /// Negation (never directly of another `Not` or a constant).
    Not(Box<Expr>),
    /// A leaf.
    Pred(Pred),
}

/// The closed set of leaf predicates. Every field name is the name after lowering (and,
/// once a pipeline ran, after mapping).
#[derive(Clone, Debug, PartialEq)]
pub enum Pred {
    /// The field's value (or, for an array, one of its elements) matches `pattern` as a whole.
    /// Case-insensitive unless `cased`.
    Str {
        field: String,
        pattern: Pattern,
        cased: bool,
    },
    /// Full-text search: some string value anywhere in the event matches `pattern` as a whole.
    /// Lowering wraps plain Sigma keywords in `*...*`, so the pattern here is explicit.
    Keyword { pattern: Pattern, cased: bool },
    /// The field's value matches the regular expression (unanchored, as in Sigma).
    Regex {
        field: String,
        regex: String,
        flags: RegexFlags,
    },
    /// The field holds an IP address inside the network.
    Cidr { field: String, net: IpNet },
    /// Numeric comparison. `part` extracts a calendar part of a timestamp field first.
    Num {
        field: String,
        op: CmpOp,
        value: Number,
        part: Option<TimePart>,
    },
    /// The field is a boolean with this value.
    Bool { field: String, value: bool },
    /// The field is absent or null.
    Null { field: String },
    /// The field is present with a non-null value (the exact negation of [`Pred::Null`]).
    Exists { field: String },
    /// The field's value equals (or contains / starts with / ends with) another field's value.
    FieldRef {
        field: String,
        other: String,
        kind: RefKind,
        cased: bool,
    },
}

/// Regular-expression flags from the `i`, `m`, `s` sub-modifiers of `re`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct RegexFlags {
    pub ignore_case: bool,
    pub multi_line: bool,
    pub dot_all: bool,
}

impl RegexFlags {
    /// The inline-flag prefix (`(?ims)`), empty when no flag is set.
    pub fn inline_prefix(&self) -> String {
        let mut s = String::new();
        if self.ignore_case {
            s.push('i');
        }
        if self.multi_line {
            s.push('m');
        }
        if self.dot_all {
            s.push('s');
        }
        if s.is_empty() {
            s
        } else {
            format!("(?{s})")
        }
    }
}

/// Comparison operators for numeric predicates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CmpOp {
    Eq,
    Lt,
    Lte,
    Gt,
    Gte,
}

impl CmpOp {
    pub fn symbol(self) -> &'static str {
        match self {
            CmpOp::Eq => "==",
            CmpOp::Lt => "<",
            CmpOp::Lte => "<=",
            CmpOp::Gt => ">",
            CmpOp::Gte => ">=",
        }
    }
}

/// How a `fieldref` compares the two fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RefKind {
    Equals,
    Contains,
    StartsWith,
    EndsWith,
}

/// Calendar parts extracted by the Sigma 2.1 time modifiers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TimePart {
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Year,
}

impl TimePart {
    pub fn name(self) -> &'static str {
        match self {
            TimePart::Minute => "minute",
            TimePart::Hour => "hour",
            TimePart::Day => "day",
            TimePart::Week => "week",
            TimePart::Month => "month",
            TimePart::Year => "year",
        }
    }
}

/// A number as written in the rule: integers stay integers so backends print them exactly.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Number {
    Int(i64),
    Float(f64),
}

impl Number {
    pub fn as_f64(self) -> f64 {
        match self {
            Number::Int(i) => i as f64,
            Number::Float(f) => f,
        }
    }
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Number::Int(i) => write!(f, "{i}"),
            Number::Float(x) => write!(f, "{x:?}"),
        }
    }
}

/// A Sigma string value after escape processing: literal text and wildcards.
///
/// Invariants kept by [`Pattern::push_lit`] and friends: no empty literal, no two adjacent
/// literals. Literal text never contains escapes; a literal `*` is just a `*` inside a `Lit`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Pattern(Vec<Piece>);

/// One piece of a [`Pattern`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Piece {
    /// Literal text, matched as is (case per the predicate).
    Lit(String),
    /// `*`: any sequence of characters, possibly empty.
    Star,
    /// `?`: exactly one character.
    Question,
    /// `%name%` under the `expand` modifier, to be resolved by a pipeline. Backends that
    /// meet one report an error.
    Placeholder(String),
}

/// The shape of a pattern, which most backends render specially.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape<'a> {
    /// No wildcard: the whole value equals the text.
    Exact(&'a str),
    /// `text*`
    Prefix(&'a str),
    /// `*text`
    Suffix(&'a str),
    /// `*text*`
    Contains(&'a str),
    /// `*` alone: any value (including the empty string).
    Any,
    /// Anything else: wildcards in the middle, `?`, several literals, placeholders.
    Complex,
}

impl Pattern {
    pub fn new() -> Self {
        Pattern(Vec::new())
    }

    /// A pattern made of one literal (no wildcard).
    pub fn literal(s: &str) -> Self {
        let mut p = Pattern::new();
        p.push_lit(s);
        p
    }

    /// Pieces as [`Pattern::push`] would leave them: no empty literal, no two literals
    /// in a row.
    pub(crate) fn from_normalized(pieces: Vec<Piece>) -> Self {
        debug_assert!(pieces
            .windows(2)
            .all(|w| !matches!(w, [Piece::Lit(_), Piece::Lit(_)])));
        debug_assert!(!pieces
            .iter()
            .any(|p| matches!(p, Piece::Lit(l) if l.is_empty())));
        Pattern(pieces)
    }

    pub fn pieces(&self) -> &[Piece] {
        &self.0
    }

    pub fn into_pieces(self) -> Vec<Piece> {
        self.0
    }

    pub fn from_pieces<I: IntoIterator<Item = Piece>>(pieces: I) -> Self {
        let mut p = Pattern::new();
        for piece in pieces {
            p.push(piece);
        }
        p
    }

    pub fn push(&mut self, piece: Piece) {
        match piece {
            Piece::Lit(s) => self.push_lit(&s),
            other => {
                self.reserve_first();
                self.0.push(other)
            }
        }
    }

    /// Most patterns are one piece: the first push allocates room for one, not `Vec`'s
    /// default four (the corpus holds tens of thousands of patterns, all alive at once).
    fn reserve_first(&mut self) {
        if self.0.capacity() == 0 {
            self.0.reserve_exact(1);
        }
    }

    pub fn push_lit(&mut self, s: &str) {
        if s.is_empty() {
            return;
        }
        if let Some(Piece::Lit(last)) = self.0.last_mut() {
            last.push_str(s);
        } else {
            self.reserve_first();
            self.0.push(Piece::Lit(s.to_string()));
        }
    }

    pub fn push_char(&mut self, c: char) {
        if let Some(Piece::Lit(last)) = self.0.last_mut() {
            last.push(c);
        } else {
            self.reserve_first();
            self.0.push(Piece::Lit(c.to_string()));
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn starts_with_star(&self) -> bool {
        matches!(self.0.first(), Some(Piece::Star))
    }

    pub fn ends_with_star(&self) -> bool {
        matches!(self.0.last(), Some(Piece::Star))
    }

    /// `*` + self + `*`, without doubling stars already there.
    pub fn contains(mut self) -> Self {
        let needed = usize::from(!self.starts_with_star()) + usize::from(!self.ends_with_star());
        self.0.reserve_exact(needed);
        if !self.starts_with_star() {
            self.0.insert(0, Piece::Star);
        }
        if !self.ends_with_star() {
            self.0.push(Piece::Star);
        }
        self
    }

    /// self + `*`
    pub fn startswith(mut self) -> Self {
        if !self.ends_with_star() {
            self.0.reserve_exact(1);
            self.0.push(Piece::Star);
        }
        self
    }

    /// `*` + self
    pub fn endswith(mut self) -> Self {
        if !self.starts_with_star() {
            self.0.reserve_exact(1);
            self.0.insert(0, Piece::Star);
        }
        self
    }

    pub fn has_wildcards(&self) -> bool {
        self.0
            .iter()
            .any(|p| matches!(p, Piece::Star | Piece::Question))
    }

    pub fn has_placeholders(&self) -> bool {
        self.0.iter().any(|p| matches!(p, Piece::Placeholder(_)))
    }

    /// The literal text if the pattern has no wildcard or placeholder.
    pub fn as_literal(&self) -> Option<&str> {
        match self.0.as_slice() {
            [] => Some(""),
            [Piece::Lit(s)] => Some(s),
            _ => None,
        }
    }

    pub fn shape(&self) -> Shape<'_> {
        use Piece::*;
        match self.0.as_slice() {
            [] => Shape::Exact(""),
            [Lit(s)] => Shape::Exact(s),
            [Star] => Shape::Any,
            [Lit(s), Star] => Shape::Prefix(s),
            [Star, Lit(s)] => Shape::Suffix(s),
            [Star, Lit(s), Star] => Shape::Contains(s),
            _ => Shape::Complex,
        }
    }

    /// The literal runs of the pattern, e.g. for prefilters (every match contains each).
    pub fn literals(&self) -> impl Iterator<Item = &str> {
        self.0.iter().filter_map(|p| match p {
            Piece::Lit(s) => Some(s.as_str()),
            _ => None,
        })
    }

    /// Regex source (unanchored pieces, caller adds `^...$`) with literals escaped.
    /// Placeholders are rendered as `.*`; callers that care check [`Pattern::has_placeholders`].
    pub fn to_regex_body(&self) -> String {
        let mut out = String::new();
        for p in &self.0 {
            match p {
                Piece::Lit(s) => out.push_str(&regex::escape(s)),
                Piece::Star | Piece::Placeholder(_) => out.push_str(".*"),
                Piece::Question => out.push('.'),
            }
        }
        out
    }

    /// Apply `f` to every literal run, keeping wildcards.
    pub fn map_literals(&self, mut f: impl FnMut(&str) -> String) -> Pattern {
        let mut p = Pattern::new();
        for piece in &self.0 {
            match piece {
                Piece::Lit(s) => p.push_lit(&f(s)),
                other => p.push(other.clone()),
            }
        }
        p
    }
}

/// Sigma notation: `*`/`?` wildcards, literal `*`, `?`, `\` escaped with a backslash,
/// placeholders as `%name%`.
impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for p in &self.0 {
            match p {
                Piece::Lit(s) => {
                    for c in s.chars() {
                        if matches!(c, '*' | '?' | '\\') {
                            f.write_char('\\')?;
                        }
                        f.write_char(c)?;
                    }
                }
                Piece::Star => f.write_char('*')?,
                Piece::Question => f.write_char('?')?,
                Piece::Placeholder(name) => write!(f, "%{name}%")?,
            }
        }
        Ok(())
    }
}

impl Pred {
    /// The field the predicate reads, `None` for keywords.
    pub fn field(&self) -> Option<&str> {
        match self {
            Pred::Str { field, .. }
            | Pred::Regex { field, .. }
            | Pred::Cidr { field, .. }
            | Pred::Num { field, .. }
            | Pred::Bool { field, .. }
            | Pred::Null { field }
            | Pred::Exists { field }
            | Pred::FieldRef { field, .. } => Some(field),
            Pred::Keyword { .. } => None,
        }
    }

    /// Mutable access to every field name the predicate reads (for field mapping).
    pub fn fields_mut(&mut self) -> Vec<&mut String> {
        match self {
            Pred::FieldRef { field, other, .. } => vec![field, other],
            Pred::Str { field, .. }
            | Pred::Regex { field, .. }
            | Pred::Cidr { field, .. }
            | Pred::Num { field, .. }
            | Pred::Bool { field, .. }
            | Pred::Null { field }
            | Pred::Exists { field } => vec![field],
            Pred::Keyword { .. } => vec![],
        }
    }

    /// Short name of the predicate kind, for error messages.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Pred::Str { .. } => "string match",
            Pred::Keyword { .. } => "keyword",
            Pred::Regex { .. } => "regular expression",
            Pred::Cidr { .. } => "cidr",
            Pred::Num { part: Some(_), .. } => "timestamp part",
            Pred::Num { .. } => "numeric comparison",
            Pred::Bool { .. } => "boolean",
            Pred::Null { .. } => "null",
            Pred::Exists { .. } => "exists",
            Pred::FieldRef { .. } => "fieldref",
        }
    }
}

impl Expr {
    pub fn pred(p: Pred) -> Expr {
        Expr::Pred(p)
    }

    /// Conjunction with flattening and constant folding.
    pub fn and(items: impl IntoIterator<Item = Expr>) -> Expr {
        Expr::junction(items.into_iter().collect(), true)
    }

    /// Disjunction with flattening and constant folding.
    pub fn or(items: impl IntoIterator<Item = Expr>) -> Expr {
        Expr::junction(items.into_iter().collect(), false)
    }

    /// `and` / `or` over `items`: the absorbing constant makes the whole that constant,
    /// the neutral one is dropped, operands of the same kind are spliced in (one level),
    /// and one operand left stands alone. In place: lowering builds one per detection
    /// item, and a `Vec` passed in (collected without copying) is reused.
    fn junction(mut items: Vec<Expr>, and: bool) -> Expr {
        if items
            .iter()
            .any(|e| matches!(e, Expr::Const(b) if *b != and))
        {
            return Expr::Const(!and);
        }
        items.retain(|e| !matches!(e, Expr::Const(_)));
        let same_kind = |e: &Expr| match e {
            Expr::And(_) => and,
            Expr::Or(_) => !and,
            _ => false,
        };
        if items.iter().any(same_kind) {
            let mut out = Vec::with_capacity(items.len());
            for e in items {
                match e {
                    Expr::And(inner) if and => out.extend(inner),
                    Expr::Or(inner) if !and => out.extend(inner),
                    other => out.push(other),
                }
            }
            items = out;
        }
        match items.len() {
            0 => Expr::Const(and),
            1 => items.pop().unwrap_or(Expr::Const(and)),
            _ if and => Expr::And(items),
            _ => Expr::Or(items),
        }
    }

    /// Negation with double-negation and constant folding.
    #[allow(clippy::should_implement_trait)]
    pub fn not(e: Expr) -> Expr {
        match e {
            Expr::Const(b) => Expr::Const(!b),
            Expr::Not(inner) => *inner,
            other => Expr::Not(Box::new(other)),
        }
    }

    /// Visit every leaf.
    pub fn for_each_pred<'a>(&'a self, f: &mut impl FnMut(&'a Pred)) {
        match self {
            Expr::Const(_) => {}
            Expr::And(v) | Expr::Or(v) => v.iter().for_each(|e| e.for_each_pred(f)),
            Expr::Not(e) => e.for_each_pred(f),
            Expr::Pred(p) => f(p),
        }
    }

    /// Rebuild the tree, replacing every leaf by the expression `f` returns (which may be a
    /// subtree, e.g. a one-to-many field mapping). Constants are re-folded.
    pub fn map_preds(self, f: &mut impl FnMut(Pred) -> Expr) -> Expr {
        match self {
            Expr::Const(b) => Expr::Const(b),
            Expr::And(v) => Expr::and(v.into_iter().map(|e| e.map_preds(f))),
            Expr::Or(v) => Expr::or(v.into_iter().map(|e| e.map_preds(f))),
            Expr::Not(e) => Expr::not(e.map_preds(f)),
            Expr::Pred(p) => f(p),
        }
    }

    /// Fallible variant of [`Expr::map_preds`].
    pub fn try_map_preds<E>(self, f: &mut impl FnMut(Pred) -> Result<Expr, E>) -> Result<Expr, E> {
        Ok(match self {
            Expr::Const(b) => Expr::Const(b),
            Expr::And(v) => Expr::and(
                v.into_iter()
                    .map(|e| e.try_map_preds(f))
                    .collect::<Result<Vec<_>, E>>()?,
            ),
            Expr::Or(v) => Expr::or(
                v.into_iter()
                    .map(|e| e.try_map_preds(f))
                    .collect::<Result<Vec<_>, E>>()?,
            ),
            Expr::Not(e) => Expr::not(e.try_map_preds(f)?),
            Expr::Pred(p) => f(p)?,
        })
    }

    /// Number of leaves, for statistics and bounds.
    pub fn leaf_count(&self) -> usize {
        let mut n = 0;
        self.for_each_pred(&mut |_| n += 1);
        n
    }
}

fn quote(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    f.write_char('\'')?;
    for c in s.chars() {
        if c == '\'' {
            f.write_str("''")?;
        } else {
            f.write_char(c)?;
        }
    }
    f.write_char('\'')
}

impl fmt::Display for Pred {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pred::Str {
                field,
                pattern,
                cased,
            } => {
                write!(f, "{field} {} ", if *cased { "=cased" } else { "=" })?;
                quote(f, &pattern.to_string())
            }
            Pred::Keyword { pattern, cased } => {
                write!(f, "keyword{} ", if *cased { " cased" } else { "" })?;
                quote(f, &pattern.to_string())
            }
            Pred::Regex {
                field,
                regex,
                flags,
            } => {
                write!(f, "{field} =~ /{}/", regex.replace('/', "\\/"))?;
                if flags.ignore_case {
                    f.write_char('i')?;
                }
                if flags.multi_line {
                    f.write_char('m')?;
                }
                if flags.dot_all {
                    f.write_char('s')?;
                }
                Ok(())
            }
            Pred::Cidr { field, net } => write!(f, "{field} in cidr {net}"),
            Pred::Num {
                field,
                op,
                value,
                part,
            } => match part {
                Some(p) => write!(f, "{}({field}) {} {value}", p.name(), op.symbol()),
                None => write!(f, "{field} {} {value}", op.symbol()),
            },
            Pred::Bool { field, value } => write!(f, "{field} == {value}"),
            Pred::Null { field } => write!(f, "{field} is null"),
            Pred::Exists { field } => write!(f, "exists({field})"),
            Pred::FieldRef {
                field,
                other,
                kind,
                cased,
            } => {
                let k = match kind {
                    RefKind::Equals => "=",
                    RefKind::Contains => "contains",
                    RefKind::StartsWith => "startswith",
                    RefKind::EndsWith => "endswith",
                };
                write!(
                    f,
                    "{field} {k}{} field({other})",
                    if *cased { " cased" } else { "" }
                )
            }
        }
    }
}

impl fmt::Display for Expr {
    /// One line, fully parenthesized below the top level; `{:#}` prints an indented tree.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if f.alternate() {
            let mut s = String::new();
            write_tree(self, 0, &mut s)?;
            f.write_str(s.trim_end())
        } else {
            write_inline(self, f, true)
        }
    }
}

fn write_inline(e: &Expr, f: &mut fmt::Formatter<'_>, top: bool) -> fmt::Result {
    match e {
        Expr::Const(b) => write!(f, "{b}"),
        Expr::Pred(p) => write!(f, "{p}"),
        Expr::Not(inner) => {
            f.write_str("not ")?;
            write_inline(inner, f, false)
        }
        Expr::And(v) | Expr::Or(v) => {
            let op = if matches!(e, Expr::And(_)) {
                " and "
            } else {
                " or "
            };
            if !top {
                f.write_char('(')?;
            }
            for (i, x) in v.iter().enumerate() {
                if i > 0 {
                    f.write_str(op)?;
                }
                write_inline(x, f, false)?;
            }
            if !top {
                f.write_char(')')?;
            }
            Ok(())
        }
    }
}

fn write_tree(e: &Expr, depth: usize, out: &mut String) -> fmt::Result {
    let pad = "  ".repeat(depth);
    match e {
        Expr::Const(b) => writeln!(out, "{pad}{b}"),
        Expr::Pred(p) => writeln!(out, "{pad}{p}"),
        Expr::Not(inner) => {
            writeln!(out, "{pad}not")?;
            write_tree(inner, depth + 1, out)
        }
        Expr::And(v) | Expr::Or(v) => {
            writeln!(
                out,
                "{pad}{}",
                if matches!(e, Expr::And(_)) {
                    "and"
                } else {
                    "or"
                }
            )?;
            for x in v {
                write_tree(x, depth + 1, out)?;
            }
            Ok(())
        }
    }
}

/// A detection rule after lowering: what backends convert.
#[derive(Clone, Debug, PartialEq)]
pub struct RuleIr {
    /// Metadata as loaded (title, id, level, tags, ...), shared, never copied per backend.
    pub meta: Arc<crate::ast::RuleMeta>,
    /// The log source (pipelines may change it).
    pub logsource: crate::ast::LogSource,
    /// One expression per condition (Sigma allows a list of conditions: each is a query).
    pub conditions: Vec<Expr>,
    /// Fields listed under `fields:` (pipelines may map them).
    pub fields: Vec<String>,
}
