//! The equality-key index of [`crate::RuleSet`] (see the module documentation there).
//!
//! A key is exact: a rule is left out for an event only when none of its keys can hold, by
//! the same semantics the compiled predicates use:
//!
//! * `Str { pattern: literal, cased: false }` holds iff the folded text of some value of
//!   the field equals the folded literal (numbers as decimal text, booleans as
//!   `true`/`false`, see [`crate::Value::with_text`]);
//! * `Str { cased: true }` the same without folding;
//! * `Num { op: Eq, value: Int(b) }` holds iff some value is numerically `b`: an integer
//!   (or a decimal string parsed as one) equal to `b`, or a float `x` with `x == b as f64`
//!   (an integral float below 2^53 is looked up as that integer; a larger one wakes every
//!   integer-keyed rule of the field).

use std::collections::HashMap;
use std::sync::Arc;

use sigil_core::ir::{CmpOp, Expr, Number, Pred};

use crate::compile::{numeric, Num};
use crate::event::{Event, Value};
use crate::fold;

/// The value part of a key.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum KeyVal {
    /// Case-folded text.
    Folded(String),
    /// Text as is (`cased`).
    Cased(String),
    Int(i64),
}

/// A disjunction of (field, value) keys; `None` = no key known.
pub(crate) type Keys = Option<Vec<(String, KeyVal)>>;

/// Key frequencies over the whole rule set: a key shared by many rules selects little.
/// Only keys on `fields` are used: every indexed field costs a look-up per event, so only
/// fields that many rules test for equality (log-source fields such as `EventID`,
/// `Channel`, `eventSource`) are worth it.
#[derive(Default)]
pub(crate) struct KeyFreq {
    pub(crate) keys: HashMap<(String, KeyVal), usize>,
    pub(crate) fields: std::collections::HashSet<String>,
}

impl KeyFreq {
    /// Count the keys of every rule (one `Vec` of keys per rule, deduplicated) and keep
    /// the fields that at least `max(2, rules / 50)` rules test for equality.
    pub(crate) fn new(per_rule: Vec<Vec<(String, KeyVal)>>) -> KeyFreq {
        let mut freq = KeyFreq::default();
        let mut by_field: HashMap<String, usize> = HashMap::new();
        let n = per_rule.len();
        for keys in per_rule {
            let mut fields: Vec<&String> = keys.iter().map(|k| &k.0).collect();
            fields.sort();
            fields.dedup();
            for f in fields {
                *by_field.entry(f.clone()).or_default() += 1;
            }
            for k in keys {
                *freq.keys.entry(k).or_default() += 1;
            }
        }
        let min = (n / 50).max(2);
        freq.fields = by_field
            .into_iter()
            .filter(|(_, c)| *c >= min)
            .map(|(f, _)| f)
            .collect();
        freq
    }
}

pub(crate) fn pred_key(p: &Pred) -> Option<(String, KeyVal)> {
    match p {
        Pred::Str {
            field,
            pattern,
            cased,
        } => {
            let lit = pattern.as_literal()?;
            Some((
                field.clone(),
                if *cased {
                    KeyVal::Cased(lit.to_string())
                } else {
                    KeyVal::Folded(fold::fold(lit))
                },
            ))
        }
        Pred::Num {
            field,
            op: CmpOp::Eq,
            value: Number::Int(b),
            part: None,
        } => Some((field.clone(), KeyVal::Int(*b))),
        _ => None,
    }
}

/// Keys of positive equality predicates, for the frequency count.
pub(crate) fn collect_keys(e: &Expr, out: &mut Vec<(String, KeyVal)>) {
    match e {
        Expr::And(v) | Expr::Or(v) => v.iter().for_each(|x| collect_keys(x, out)),
        Expr::Pred(p) => out.extend(pred_key(p)),
        _ => {}
    }
}

fn cost(set: &[(String, KeyVal)], freq: &KeyFreq) -> usize {
    set.iter()
        .map(|k| freq.keys.get(k).copied().unwrap_or(1))
        .sum()
}

/// The key set of an expression: if the expression holds, one of the keys holds.
pub(crate) fn keys(e: &Expr, freq: &KeyFreq) -> Keys {
    match e {
        Expr::Const(false) => Some(vec![]),
        Expr::Const(true) | Expr::Not(_) => None,
        Expr::Pred(p) => pred_key(p)
            .filter(|k| freq.fields.contains(&k.0))
            .map(|k| vec![k]),
        Expr::And(items) => items
            .iter()
            .filter_map(|x| keys(x, freq))
            .min_by_key(|s| cost(s, freq)),
        Expr::Or(items) => {
            let mut out = vec![];
            for i in items {
                out.extend(keys(i, freq)?);
            }
            out.sort();
            out.dedup();
            Some(out)
        }
    }
}

/// The keys of one field, each with its id.
#[derive(Default)]
struct FieldKeys {
    name: Arc<str>,
    /// `crate::fast::hash_path(name)`.
    hash: u64,
    folded: HashMap<Box<str>, u32>,
    cased: HashMap<Box<str>, u32>,
    int: HashMap<i64, u32>,
    /// Every integer key of this field (for floats that cannot be mapped to one integer).
    int_all: Vec<u32>,
}

/// (field, value) → key id; key id → the rules evaluated on that key alone (they have no
/// literal requirement). Rules that also have literals keep their key ids
/// ([`KeyIndex::add`] returns them) and are checked when a literal hits.
#[derive(Default)]
pub(crate) struct KeyIndex {
    fields: Vec<FieldKeys>,
    only: Vec<Vec<u32>>,
}

impl KeyIndex {
    /// Register the keys of rule `r`; `alone`: the rule has no other prefilter, so a key
    /// hit makes it a candidate. Returns the rule's key ids.
    pub(crate) fn add(
        &mut self,
        r: u32,
        keys: Vec<(String, KeyVal)>,
        alone: bool,
        intern: impl Fn(&str) -> Arc<str>,
    ) -> Vec<u32> {
        let mut ids = vec![];
        for (field, val) in keys {
            let i = match self.fields.iter().position(|f| *f.name == *field) {
                Some(i) => i,
                None => {
                    self.fields.push(FieldKeys {
                        name: intern(&field),
                        hash: crate::fast::hash_path(&field),
                        ..Default::default()
                    });
                    self.fields.len() - 1
                }
            };
            let next = self.only.len() as u32;
            let is_int = matches!(val, KeyVal::Int(_));
            let f = &mut self.fields[i];
            let id = *match val {
                KeyVal::Folded(s) => f.folded.entry(s.into()).or_insert(next),
                KeyVal::Cased(s) => f.cased.entry(s.into()).or_insert(next),
                KeyVal::Int(n) => f.int.entry(n).or_insert(next),
            };
            if id == next {
                if is_int {
                    f.int_all.push(id);
                }
                self.only.push(vec![]);
            }
            if alone && self.only[id as usize].last() != Some(&r) {
                self.only[id as usize].push(r);
            }
            ids.push(id);
        }
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    pub(crate) fn key_count(&self) -> usize {
        self.only.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// The rules a key hit makes candidates on its own.
    #[inline]
    pub(crate) fn rules_of(&self, key: u32) -> &[u32] {
        &self.only[key as usize]
    }

    /// Call `hit` with every key (id) that holds in the event (a key may be reported more
    /// than once).
    pub(crate) fn hits(&self, ev: &dyn Event, hit: &mut dyn FnMut(u32)) {
        for f in &self.fields {
            ev.field_folded_hashed(&f.name, f.hash, &mut |v, folded| {
                f.visit(v, folded, hit);
                false
            });
        }
    }
}

impl FieldKeys {
    #[inline]
    fn visit(&self, v: Value<'_>, folded: Option<&str>, hit: &mut dyn FnMut(u32)) {
        if !self.folded.is_empty() || !self.cased.is_empty() {
            v.with_text(|t| {
                if let Some(k) = self.cased.get(t) {
                    hit(*k);
                }
                if !self.folded.is_empty() {
                    let mut look = |ft: &str| {
                        if let Some(k) = self.folded.get(ft) {
                            hit(*k);
                        }
                    };
                    match folded {
                        Some(ft) => look(ft),
                        None => fold::with_folded(t, look),
                    }
                }
            });
        }
        if !self.int.is_empty() {
            match numeric(v) {
                Some(Num::I(i)) => {
                    if let Some(k) = i64::try_from(i).ok().and_then(|i| self.int.get(&i)) {
                        hit(*k);
                    }
                }
                Some(Num::F(x)) => {
                    // `x == b as f64` for some i64 b: exactly `x as i64` when x is integral
                    // and below 2^53 in magnitude; above that, several b may round to x.
                    const EXACT: f64 = 9_007_199_254_740_992.0;
                    if x.fract() == 0.0 && x.abs() < EXACT {
                        if let Some(k) = self.int.get(&(x as i64)) {
                            hit(*k);
                        }
                    } else if x.fract() == 0.0 {
                        self.int_all.iter().for_each(|k| hit(*k));
                    }
                }
                None => {}
            }
        }
    }
}
