//! IR → closures. Each predicate becomes a boxed closure that captures its compiled
//! needle, regex or network; `And`/`Or`/`Not` become closures over their children. Nothing
//! of the IR is looked at while an event is evaluated.

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use ipnet::IpNet;
use sigil_core::ir::{CmpOp, Expr, Number, Pattern, Pred, RefKind, Shape};

use crate::bytes::same;
use crate::event::{Event, Value};
use crate::fold;
use crate::strmatch::StrMatcher;
use crate::time;
use crate::MatchError;

thread_local! {
    static INTERNER: RefCell<Option<HashMap<String, Arc<str>>>> = const { RefCell::new(None) };
}

/// Field names as shared strings: inside [`interning`], equal names share one allocation,
/// so the per-event field cache of [`crate::RuleSet`] can key on the pointer.
pub(crate) fn intern(name: &str) -> Arc<str> {
    INTERNER.with(|cell| match cell.borrow_mut().as_mut() {
        Some(map) => map
            .entry(name.to_string())
            .or_insert_with(|| Arc::from(name))
            .clone(),
        None => Arc::from(name),
    })
}

/// Run `f` with field-name interning on (this thread).
pub(crate) fn interning<R>(f: impl FnOnce() -> R) -> R {
    INTERNER.with(|cell| *cell.borrow_mut() = Some(HashMap::new()));
    let r = f();
    INTERNER.with(|cell| *cell.borrow_mut() = None);
    r
}

pub(crate) type Node = Box<dyn Fn(&dyn Event) -> bool + Send + Sync>;

/// A compiled boolean expression.
pub struct CompiledExpr {
    node: Node,
    leaves: usize,
}

impl std::fmt::Debug for CompiledExpr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CompiledExpr({} predicates)", self.leaves)
    }
}

impl CompiledExpr {
    /// Whether the event satisfies the expression.
    #[inline]
    pub fn matches<E: Event>(&self, ev: &E) -> bool {
        (self.node)(ev)
    }

    /// [`CompiledExpr::matches`] for a trait object.
    #[inline]
    pub fn matches_dyn(&self, ev: &dyn Event) -> bool {
        (self.node)(ev)
    }
}

/// Compile an IR expression. Fails on what the matcher cannot evaluate: unresolved
/// `%placeholder%`s and regular expressions the `regex` crate rejects.
pub fn compile_expr(expr: &Expr) -> Result<CompiledExpr, MatchError> {
    Ok(CompiledExpr {
        node: node(expr)?,
        leaves: expr.leaf_count(),
    })
}

fn node(e: &Expr) -> Result<Node, MatchError> {
    Ok(match e {
        Expr::Const(b) => {
            let b = *b;
            Box::new(move |_| b)
        }
        Expr::Not(inner) => {
            let n = node(inner)?;
            Box::new(move |ev| !n(ev))
        }
        Expr::And(items) => {
            // Conjuncts that usually fail run first: a candidate rule mostly fails on its
            // selection, while log-source conditions (`EventID`, `Channel`: the key index
            // already found one of them true) and filters (`not ...`) usually hold.
            let mut order: Vec<&Expr> = items.iter().collect();
            order.sort_by_key(|e| likely_true(e));
            let nodes = order.into_iter().map(node).collect::<Result<Vec<_>, _>>()?;
            match <[Node; 2]>::try_from(nodes) {
                Ok([a, b]) => Box::new(move |ev| a(ev) && b(ev)),
                Err(nodes) => Box::new(move |ev| nodes.iter().all(|n| n(ev))),
            }
        }
        Expr::Or(items) => {
            let nodes = or_nodes(items)?;
            match <[Node; 1]>::try_from(nodes) {
                Ok([a]) => a,
                Err(nodes) => Box::new(move |ev| nodes.iter().any(|n| n(ev))),
            }
        }
        Expr::Pred(p) => pred(p)?,
    })
}

/// Evaluation order of a conjunct (lower first): 0 a selection, 1 an equality on a number
/// or an exact string only (log-source conditions), 2 a negation.
fn likely_true(e: &Expr) -> u8 {
    fn exact_only(e: &Expr) -> bool {
        match e {
            Expr::And(v) | Expr::Or(v) => v.iter().all(exact_only),
            Expr::Pred(Pred::Num {
                op: CmpOp::Eq,
                part: None,
                ..
            }) => true,
            Expr::Pred(Pred::Str { pattern, .. }) => pattern.as_literal().is_some(),
            _ => false,
        }
    }
    match e {
        Expr::Not(_) => 2,
        e if exact_only(e) && e.leaf_count() > 1 => 1,
        Expr::Pred(Pred::Num { op: CmpOp::Eq, .. }) => 1,
        _ => 0,
    }
}

/// Where a group of string patterns looks.
#[derive(Clone, PartialEq, Eq)]
enum Target {
    Field(Arc<str>),
    /// Every string value (keywords).
    Keywords,
}

/// `Or` children: string patterns on the same field (or keywords) with the same case
/// sensitivity are merged, so the field is looked up and folded once and many
/// `contains` needles are searched with one pass of a gram set ([`crate::grams`]).
fn or_nodes(items: &[Expr]) -> Result<Vec<Node>, MatchError> {
    let mut groups: Vec<(Target, bool, Vec<&Pattern>)> = vec![];
    let mut order: Vec<Result<usize, &Expr>> = vec![];
    for e in items {
        let key = match e {
            Expr::Pred(Pred::Str {
                field,
                pattern,
                cased,
            }) => Some((Target::Field(intern(field)), *cased, pattern)),
            Expr::Pred(Pred::Keyword { pattern, cased }) => {
                Some((Target::Keywords, *cased, pattern))
            }
            _ => None,
        };
        match key {
            Some((t, cased, p)) => {
                if let Some(i) = groups.iter().position(|g| g.0 == t && g.1 == cased) {
                    groups[i].2.push(p);
                } else {
                    order.push(Ok(groups.len()));
                    groups.push((t, cased, vec![p]));
                }
            }
            None => order.push(Err(e)),
        }
    }
    let mut groups: Vec<Option<(Target, bool, Vec<&Pattern>)>> =
        groups.into_iter().map(Some).collect();
    let mut out = Vec::with_capacity(order.len());
    for o in order {
        match o {
            Err(e) => out.push(node(e)?),
            Ok(i) => {
                if let Some((target, cased, pats)) = groups[i].take() {
                    out.push(str_group(target, cased, &pats)?);
                }
            }
        }
    }
    Ok(out)
}

fn placeholder_err(name: &str) -> MatchError {
    MatchError::new(format!(
        "unresolved placeholder '%{name}%': apply a pipeline that resolves it"
    ))
}

fn matcher(p: &Pattern, cased: bool) -> Result<StrMatcher, MatchError> {
    StrMatcher::new(p, cased).map_err(|e| placeholder_err(&e.0))
}

/// Many patterns over one target.
struct Group {
    cased: bool,
    /// Patterns tested one by one (on the prepared haystack).
    each: Vec<StrMatcher>,
    /// Exact, prefix and suffix needles (of groups of two or more patterns).
    packed: Packed,
    /// `*x*` needles searched at once (when there are [`SET_MIN_NEEDLES`] or more): the
    /// gram scanner of the prefilter, whose few small tables stay in cache, where an
    /// Aho-Corasick DFA per group was a cold automaton walked byte by byte (+4-5% events/s).
    contains: Option<crate::grams::GramSet>,
}

/// Exact, prefix and suffix needles in one buffer: a list of forty `endswith` values is a
/// run of lengths and a run of text (a few cache lines read in order), not forty separate
/// allocations; a needle longer than the haystack (or, for `exact`, of another length) is
/// rejected on its length alone.
#[derive(Default)]
struct Packed {
    text: Vec<u8>,
    /// (start in `text`, length) per needle.
    exact: Vec<(u32, u32)>,
    prefix: Vec<(u32, u32)>,
    suffix: Vec<(u32, u32)>,
}

/// Where a packed needle must sit in the haystack.
#[derive(Clone, Copy)]
enum At {
    Exact,
    Prefix,
    Suffix,
}

impl Packed {
    fn push(&mut self, at: At, needle: &[u8]) {
        let item = (self.text.len() as u32, needle.len() as u32);
        self.text.extend_from_slice(needle);
        match at {
            At::Exact => self.exact.push(item),
            At::Prefix => self.prefix.push(item),
            At::Suffix => self.suffix.push(item),
        }
    }

    #[inline]
    fn needle(&self, (start, len): (u32, u32)) -> &[u8] {
        &self.text[start as usize..(start + len) as usize]
    }

    #[inline]
    fn matches(&self, h: &[u8]) -> bool {
        self.exact
            .iter()
            .any(|&n| n.1 as usize == h.len() && same(h, self.needle(n)))
            || self.prefix.iter().any(|&n| {
                h.get(..n.1 as usize)
                    .is_some_and(|p| same(p, self.needle(n)))
            })
            || self.suffix.iter().any(|&n| {
                h.len()
                    .checked_sub(n.1 as usize)
                    .is_some_and(|from| same(&h[from..], self.needle(n)))
            })
    }
}

impl Group {
    #[inline]
    fn matches(&self, text: &str) -> bool {
        if self.cased {
            return self.matches_prepared(text.as_bytes());
        }
        if self.each.len() == 1 && self.contains.is_none() && self.packed.text.is_empty() {
            return self.each[0].matches(text);
        }
        fold::with_folded(text, |h| self.matches_prepared(h.as_bytes()))
    }

    #[inline]
    fn matches_prepared(&self, h: &[u8]) -> bool {
        self.contains.as_ref().is_some_and(|set| {
            let mut hit = false;
            set.scan(h, &mut |_| hit = true);
            hit
        }) || self.packed.matches(h)
            || self.each.iter().any(|m| m.matches_prepared(h))
    }
}

/// Below this many `contains` needles, one `memmem` finder each is faster (a threshold of
/// two measured -5% events/s, of eight -3%).
const SET_MIN_NEEDLES: usize = 4;

fn str_group(target: Target, cased: bool, pats: &[&Pattern]) -> Result<Node, MatchError> {
    let mut each = vec![];
    let mut packed = Packed::default();
    let mut needles: Vec<String> = vec![];
    let contains_count = pats
        .iter()
        .filter(|p| matches!(p.shape(), Shape::Contains(_)))
        .count();
    let prepare = |s: &str| if cased { s.to_string() } else { fold::fold(s) };
    for p in pats {
        let packed_at = match p.shape() {
            Shape::Contains(s) if contains_count >= SET_MIN_NEEDLES => {
                needles.push(prepare(s));
                continue;
            }
            _ if pats.len() == 1 => None,
            Shape::Exact(s) => Some((At::Exact, s)),
            Shape::Prefix(s) => Some((At::Prefix, s)),
            Shape::Suffix(s) => Some((At::Suffix, s)),
            _ => None,
        };
        match packed_at {
            Some((at, s)) => packed.push(at, prepare(s).as_bytes()),
            None => each.push(matcher(p, cased)?),
        }
    }
    let contains = (!needles.is_empty()).then(|| crate::grams::GramSet::build(&needles));
    let group = Group {
        cased,
        each,
        packed,
        contains,
    };
    Ok(match target {
        Target::Field(field) => {
            let hash = crate::fast::hash_path(&field);
            Box::new(move |ev| {
                ev.field_folded_hashed(&field, hash, &mut |v, folded| match folded {
                    Some(ft) if !group.cased => group.matches_prepared(ft.as_bytes()),
                    _ => v.with_text(|t| group.matches(t)).unwrap_or(false),
                })
            })
        }
        Target::Keywords => Box::new(move |ev| {
            ev.values_folded(&mut |v, folded| match (v, folded) {
                (Value::Str(_), Some(ft)) if !group.cased => group.matches_prepared(ft.as_bytes()),
                (Value::Str(s), _) => group.matches(s),
                _ => false,
            })
        }),
    })
}

/// A number read from an event.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Num {
    I(i128),
    F(f64),
}

/// The numeric value of an event value: numbers, and strings holding a decimal number
/// (`"4625"`, `"-1.5"`, `"1e3"`; not `"0x10"`, `" 12"`, `"inf"`).
pub(crate) fn numeric(v: Value<'_>) -> Option<Num> {
    match v {
        Value::Int(i) => Some(Num::I(i.into())),
        Value::UInt(u) => Some(Num::I(u.into())),
        Value::Float(x) if x.is_finite() => Some(Num::F(x)),
        Value::Str(s) => parse_num(s),
        _ => None,
    }
}

pub(crate) fn parse_num(s: &str) -> Option<Num> {
    let b = s.as_bytes();
    if b.is_empty()
        || !b
            .iter()
            .all(|c| c.is_ascii_digit() || matches!(c, b'-' | b'+' | b'.' | b'e' | b'E'))
        || !b.iter().any(u8::is_ascii_digit)
    {
        return None;
    }
    if let Ok(i) = s.parse::<i128>() {
        return Some(Num::I(i));
    }
    s.parse::<f64>().ok().filter(|x| x.is_finite()).map(Num::F)
}

impl Num {
    pub(crate) fn as_f64(self) -> f64 {
        match self {
            Num::I(i) => i as f64,
            Num::F(x) => x,
        }
    }
}

fn compare(lhs: Num, op: CmpOp, rhs: Number) -> bool {
    use std::cmp::Ordering;
    let ord = match (lhs, rhs) {
        (Num::I(a), Number::Int(b)) => Some(a.cmp(&i128::from(b))),
        (a, b) => a.as_f64().partial_cmp(&b.as_f64()),
    };
    let Some(ord) = ord else { return false };
    match op {
        CmpOp::Eq => ord == Ordering::Equal,
        CmpOp::Lt => ord == Ordering::Less,
        CmpOp::Lte => ord != Ordering::Greater,
        CmpOp::Gt => ord == Ordering::Greater,
        CmpOp::Gte => ord != Ordering::Less,
    }
}

/// Whether `s` holds an address inside `net` (IPv4-mapped IPv6 addresses count as IPv4).
pub(crate) fn in_net(net: &IpNet, s: &str) -> bool {
    let Ok(ip) = s.parse::<IpAddr>() else {
        return false;
    };
    match (net, ip) {
        (IpNet::V4(n), IpAddr::V4(a)) => n.contains(&a),
        (IpNet::V6(n), IpAddr::V6(a)) => n.contains(&a),
        (IpNet::V4(n), IpAddr::V6(a)) => a.to_ipv4_mapped().is_some_and(|a| n.contains(&a)),
        (IpNet::V6(n), IpAddr::V4(a)) => n.contains(&a.to_ipv6_mapped()),
    }
}

fn fieldref_cmp(kind: RefKind, cased: bool, a: &str, b: &str) -> bool {
    if cased {
        return match kind {
            RefKind::Equals => a == b,
            RefKind::Contains => a.contains(b),
            RefKind::StartsWith => a.starts_with(b),
            RefKind::EndsWith => a.ends_with(b),
        };
    }
    match kind {
        RefKind::Equals => fold::eq_folded(a, b),
        RefKind::StartsWith => {
            let mut ia = a.chars().map(fold::fold_char);
            b.chars().map(fold::fold_char).all(|c| ia.next() == Some(c))
        }
        RefKind::EndsWith => {
            let mut ia = a.chars().rev().map(fold::fold_char);
            b.chars()
                .rev()
                .map(fold::fold_char)
                .all(|c| ia.next() == Some(c))
        }
        RefKind::Contains => fold::fold(a).contains(&fold::fold(b)),
    }
}

fn pred(p: &Pred) -> Result<Node, MatchError> {
    Ok(match p {
        Pred::Str {
            field,
            pattern,
            cased,
        } => {
            let m = matcher(pattern, *cased)?;
            let field = intern(field);
            let hash = crate::fast::hash_path(&field);
            let cased = *cased;
            Box::new(move |ev| {
                ev.field_folded_hashed(&field, hash, &mut |v, folded| match folded {
                    Some(ft) if !cased => m.matches_prepared(ft.as_bytes()),
                    _ => v.with_text(|t| m.matches(t)).unwrap_or(false),
                })
            })
        }
        Pred::Keyword { pattern, cased } => {
            let m = matcher(pattern, *cased)?;
            let cased = *cased;
            Box::new(move |ev| {
                ev.values_folded(&mut |v, folded| match (v, folded) {
                    (Value::Str(_), Some(ft)) if !cased => m.matches_prepared(ft.as_bytes()),
                    (Value::Str(s), _) => m.matches(s),
                    _ => false,
                })
            })
        }
        Pred::Regex {
            field,
            regex,
            flags,
        } => {
            let re = regex::RegexBuilder::new(regex)
                .case_insensitive(flags.ignore_case)
                .multi_line(flags.multi_line)
                .dot_matches_new_line(flags.dot_all)
                .size_limit(1 << 24)
                .build()
                .map_err(|e| {
                    MatchError::new(format!("invalid regular expression '{regex}': {e}"))
                })?;
            let field = intern(field);
            let hash = crate::fast::hash_path(&field);
            Box::new(move |ev| {
                ev.field_folded_hashed(&field, hash, &mut |v, _| {
                    v.with_text(|t| re.is_match(t)).unwrap_or(false)
                })
            })
        }
        Pred::Cidr { field, net } => {
            let (field, net) = (intern(field), *net);
            let hash = crate::fast::hash_path(&field);
            Box::new(move |ev| {
                ev.field_folded_hashed(&field, hash, &mut |v, _| match v {
                    Value::Str(s) => in_net(&net, s),
                    _ => false,
                })
            })
        }
        Pred::Num {
            field,
            op,
            value,
            part,
        } => {
            let (field, op, value) = (intern(field), *op, *value);
            let hash = crate::fast::hash_path(&field);
            match *part {
                None => Box::new(move |ev| {
                    ev.field_folded_hashed(&field, hash, &mut |v, _| {
                        numeric(v).is_some_and(|n| compare(n, op, value))
                    })
                }),
                Some(part) => Box::new(move |ev| {
                    ev.field_folded_hashed(&field, hash, &mut |v, _| {
                        time::value_millis(v).is_some_and(|ms| {
                            compare(Num::I(time::part(ms, part).into()), op, value)
                        })
                    })
                }),
            }
        }
        Pred::Bool { field, value } => {
            let (field, want) = (intern(field), *value);
            let hash = crate::fast::hash_path(&field);
            let text = if want { "true" } else { "false" };
            Box::new(move |ev| {
                ev.field_folded_hashed(&field, hash, &mut |v, _| match v {
                    Value::Bool(b) => b == want,
                    Value::Str(s) => s.eq_ignore_ascii_case(text),
                    _ => false,
                })
            })
        }
        Pred::Null { field } => {
            let field = intern(field);
            let hash = crate::fast::hash_path(&field);
            Box::new(move |ev| !ev.field_folded_hashed(&field, hash, &mut |v, _| !v.is_null()))
        }
        Pred::Exists { field } => {
            let field = intern(field);
            let hash = crate::fast::hash_path(&field);
            Box::new(move |ev| ev.field_folded_hashed(&field, hash, &mut |v, _| !v.is_null()))
        }
        Pred::FieldRef {
            field,
            other,
            kind,
            cased,
        } => {
            let (field, other, kind, cased) = (intern(field), intern(other), *kind, *cased);
            Box::new(move |ev| {
                ev.field(&field, &mut |a| {
                    a.with_text(|ta| {
                        ev.field(&other, &mut |b| {
                            b.with_text(|tb| fieldref_cmp(kind, cased, ta, tb))
                                .unwrap_or(false)
                        })
                    })
                    .unwrap_or(false)
                })
            })
        }
    })
}
