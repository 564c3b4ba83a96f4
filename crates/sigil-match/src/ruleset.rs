//! Many rules at once, behind two exact prefilters: an index of equality keys and a
//! literal automaton.
//!
//! **Key index.** Raw events carry no log source, but after a pipeline most rules conjoin
//! an exact equality on a discriminating field (`EventID: 1`, `Channel: Security`,
//! `eventSource: iam.amazonaws.com`). For every rule a *key set* is derived: pairs
//! (field, value) of which at least one must hold in any event the rule matches. An
//! equality predicate gives one pair (case-folded text for a case-insensitive string, the
//! text as is for a `cased` one, the integer for `Field: 4625`); an `And` takes the most
//! selective set of its operands, an `Or` the union (none if one operand has none). Per
//! event only the values of the indexed fields are looked up, with the predicates' own
//! semantics: numbers as their decimal text for string keys, numeric strings as their
//! number for integer keys, every element of an array.
//!
//! **Literal prefilter.** For every
//! rule the compiler derives a set of *required literals*: substrings of which at least one
//! must occur (case-insensitively) in some value of any event the rule matches. For a
//! predicate `Image|endswith: '\rundll32.exe'` that set is `{"\rundll32.exe"}`; an `And`
//! takes the most selective set of its operands, an `Or` the union of its operands' sets
//! (and has none if one operand has none), `not` has none. One Aho-Corasick automaton over
//! all rules' literals is run over the event's values once; only rules with a literal
//! present, plus the rules without a literal set, are evaluated. A rule with both a key
//! set and a literal set is evaluated only when both hit.
//!
//! The prefilter is exact (never hides a match): the automaton is ASCII-case-insensitive and
//! runs over Unicode-folded text when a value is not ASCII, and numbers and booleans are
//! scanned as the same text the string predicates see. It relies on [`Event::values`]
//! reporting every value [`Event::field`] can.

use std::collections::HashMap;
use std::sync::Arc;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use sigil_core::ast::RuleMeta;
use sigil_core::ir::{Expr, Piece, Pred, RuleIr};

use crate::event::Event;
use crate::fold;
use crate::keyindex::{self, KeyFreq, KeyIndex};
use crate::{CompiledRule, MatchError};

/// One matching rule.
#[derive(Clone, Debug)]
pub struct RuleMatch<'a> {
    /// Position of the rule in the slice given to [`RuleSet::new`].
    pub index: usize,
    pub meta: &'a Arc<RuleMeta>,
}

/// How the rules split between the prefilter and always-evaluated.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RuleSetStats {
    pub rules: usize,
    /// Rules evaluated only when one of their literals occurs or one of their keys holds.
    pub prefiltered: usize,
    /// Rules evaluated on every event (neither a literal set nor a key set could be
    /// derived).
    pub always: usize,
    /// Distinct literals in the automaton.
    pub literals: usize,
    /// Rules behind the equality-key index (they may also be behind a literal).
    pub keyed: usize,
    /// Distinct (field, value) keys in the index.
    pub keys: usize,
}

/// Compiled rules with a shared prefilter. Immutable and `Sync`: share it across threads.
pub struct RuleSet {
    rules: Vec<CompiledRule>,
    /// Input position of each compiled rule.
    source: Vec<usize>,
    ac: Option<AhoCorasick>,
    /// Literal → compiled rules requiring it.
    literal_rules: Vec<Vec<u32>>,
    /// Equality keys → compiled rules.
    keys: KeyIndex,
    /// Per compiled rule: its key ids (any of them must hold), whether it is behind the
    /// key index / the literal automaton.
    rule_keys: Vec<Vec<u32>>,
    has_key: Vec<bool>,
    always: Vec<u32>,
    stats: RuleSetStats,
}

impl std::fmt::Debug for RuleSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuleSet")
            .field("stats", &self.stats)
            .finish()
    }
}

/// Reusable per-thread working memory for [`RuleSet::matching_into`].
#[derive(Clone, Debug, Default)]
pub struct Scratch {
    generation: u32,
    literal_seen: Vec<u32>,
    rule_seen: Vec<u32>,
    key_seen: Vec<u32>,
    candidates: Vec<u32>,
    folded: String,
}

impl Scratch {
    /// How many rules the last [`RuleSet::matching_into`] call evaluated (after the
    /// prefilter), for statistics.
    pub fn last_candidates(&self) -> usize {
        self.candidates.len()
    }
}

/// A required-literal set: `None` = no requirement known; `Some(empty)` = never matches.
type Req = Option<Vec<String>>;

fn pattern_req(pieces: &[Piece]) -> Req {
    pieces
        .iter()
        .filter_map(|p| match p {
            Piece::Lit(s) => Some(s),
            _ => None,
        })
        .max_by_key(|s| s.chars().count())
        .map(|s| vec![fold::fold(s)])
}

/// How many rules could use each literal: common literals (a log source's `Channel`,
/// `.exe`) select nothing, rare ones select well.
type Freq = HashMap<String, usize>;

/// Literals of positive string predicates, for the frequency count.
fn collect_literals(e: &Expr, out: &mut Vec<String>) {
    match e {
        Expr::And(v) | Expr::Or(v) => v.iter().for_each(|x| collect_literals(x, out)),
        Expr::Pred(Pred::Str { pattern, .. }) | Expr::Pred(Pred::Keyword { pattern, .. }) => {
            out.extend(pattern_req(pattern.pieces()).into_iter().flatten())
        }
        _ => {}
    }
}

/// Lower is better: the expected number of rules woken up by the set, with short literals
/// (which occur in almost every event) penalized.
fn cost(set: &[String], freq: &Freq) -> usize {
    set.iter()
        .map(|s| {
            let f = freq.get(s).copied().unwrap_or(1);
            let short = match s.len() {
                0..=2 => 10_000,
                3 => 1_000,
                4 => 100,
                _ => 0,
            };
            f + short
        })
        .sum()
}

fn required(e: &Expr, freq: &Freq) -> Req {
    match e {
        Expr::Const(false) => Some(vec![]),
        Expr::Const(true) | Expr::Not(_) => None,
        Expr::Pred(Pred::Str { pattern, .. }) | Expr::Pred(Pred::Keyword { pattern, .. }) => {
            pattern_req(pattern.pieces())
        }
        Expr::Pred(_) => None,
        Expr::And(items) => items
            .iter()
            .filter_map(|x| required(x, freq))
            .min_by_key(|s| cost(s, freq)),
        Expr::Or(items) => {
            let mut out = vec![];
            for i in items {
                out.extend(required(i, freq)?);
            }
            Some(out)
        }
    }
}

impl RuleSet {
    /// Compile the rules. Rules that fail to compile are left out and reported (with the
    /// rule named); the others keep their input positions in [`RuleMatch::index`].
    pub fn new(rules: &[RuleIr]) -> (RuleSet, Vec<MatchError>) {
        crate::compile::interning(|| Self::build(rules))
    }

    fn build(rules: &[RuleIr]) -> (RuleSet, Vec<MatchError>) {
        let mut errors = vec![];
        let mut compiled = vec![];
        let mut source = vec![];
        let mut literals: HashMap<String, usize> = HashMap::new();
        let mut literal_list: Vec<String> = vec![];
        let mut literal_rules: Vec<Vec<u32>> = vec![];
        let mut always = vec![];
        let mut prefiltered = 0;
        let mut freq: Freq = HashMap::new();
        let mut rule_keys = vec![];
        for r in rules {
            let mut lits = vec![];
            let mut keys = vec![];
            for c in &r.conditions {
                collect_literals(c, &mut lits);
                keyindex::collect_keys(c, &mut keys);
            }
            lits.sort();
            lits.dedup();
            for l in lits {
                *freq.entry(l).or_default() += 1;
            }
            keys.sort();
            keys.dedup();
            rule_keys.push(keys);
        }
        let key_freq = KeyFreq::new(rule_keys);
        let mut keys = KeyIndex::default();
        let mut rule_keys: Vec<Vec<u32>> = vec![];
        let mut has_key = vec![];
        let mut has_literal = vec![];
        for (i, r) in rules.iter().enumerate() {
            let c = match CompiledRule::compile(r) {
                Ok(c) => c,
                Err(e) => {
                    errors.push(e);
                    continue;
                }
            };
            let id = compiled.len() as u32;
            compiled.push(c);
            source.push(i);
            let whole = Expr::or(r.conditions.iter().cloned());
            let req = required(&whole, &freq)
                // Empty literals give no selectivity.
                .filter(|set| set.iter().all(|s| !s.is_empty()));
            let key_set = keyindex::keys(&whole, &key_freq);
            has_key.push(key_set.is_some());
            has_literal.push(req.is_some());
            rule_keys.push(match key_set {
                Some(k) => keys.add(id, k, req.is_none(), crate::compile::intern),
                None => vec![],
            });
            match req {
                Some(set) => {
                    prefiltered += 1;
                    for s in set {
                        let k = *literals.entry(s.clone()).or_insert_with(|| {
                            literal_list.push(s);
                            literal_rules.push(vec![]);
                            literal_list.len() - 1
                        });
                        if literal_rules[k].last() != Some(&id) {
                            literal_rules[k].push(id);
                        }
                    }
                }
                _ if has_key[id as usize] => prefiltered += 1,
                _ => always.push(id),
            }
        }
        let ac = if literal_list.is_empty() {
            None
        } else {
            let build = |kind| {
                AhoCorasickBuilder::new()
                    .ascii_case_insensitive(true)
                    .match_kind(MatchKind::Standard)
                    .kind(kind)
                    .build(&literal_list)
            };
            match build(Some(AhoCorasickKind::DFA)).or_else(|_| build(None)) {
                Ok(ac) => Some(ac),
                Err(e) => {
                    errors.push(MatchError::new(format!(
                        "prefilter disabled: cannot build the literal automaton: {e}"
                    )));
                    // Without the automaton every rule is evaluated: correct, only slower.
                    always = (0..compiled.len() as u32).collect();
                    keys = KeyIndex::default();
                    rule_keys.iter_mut().for_each(Vec::clear);
                    has_key.iter_mut().for_each(|h| *h = false);
                    has_literal.iter_mut().for_each(|h| *h = false);
                    literal_rules.clear();
                    None
                }
            }
        };
        let stats = RuleSetStats {
            rules: compiled.len(),
            prefiltered: compiled.len() - always.len(),
            always: always.len(),
            literals: if ac.is_some() { literal_list.len() } else { 0 },
            keyed: has_key.iter().filter(|k| **k).count(),
            keys: keys.key_count(),
        };
        debug_assert!(ac.is_none() || stats.prefiltered == prefiltered);
        (
            RuleSet {
                rules: compiled,
                source,
                ac,
                literal_rules,
                keys,
                rule_keys,
                has_key,
                always,
                stats,
            },
            errors,
        )
    }

    pub fn stats(&self) -> &RuleSetStats {
        &self.stats
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The compiled rules with their input positions.
    pub fn rules(&self) -> impl Iterator<Item = (usize, &CompiledRule)> {
        self.source.iter().copied().zip(&self.rules)
    }

    /// The rules matching the event, in input order.
    pub fn matches<E: Event>(&self, ev: &E) -> Vec<RuleMatch<'_>> {
        let mut scratch = Scratch::default();
        let mut out = vec![];
        self.matching_into(ev, &mut scratch, &mut out);
        out.into_iter()
            .map(|i| RuleMatch {
                index: i,
                meta: self.meta_of(i),
            })
            .collect()
    }

    fn meta_of(&self, input_index: usize) -> &Arc<RuleMeta> {
        let k = self
            .source
            .binary_search(&input_index)
            .unwrap_or_else(|k| k.min(self.rules.len().saturating_sub(1)));
        &self.rules[k].meta
    }

    /// Metadata of the rule at an input position (as in [`RuleMatch::index`]).
    pub fn meta(&self, input_index: usize) -> Option<&Arc<RuleMeta>> {
        self.source
            .binary_search(&input_index)
            .ok()
            .map(|k| &self.rules[k].meta)
    }

    /// Input positions of the matching rules, in input order, appended to `out` (which is
    /// cleared first). Reuses `scratch` across calls: no allocation in the steady state.
    pub fn matching_into<E: Event>(&self, ev: &E, scratch: &mut Scratch, out: &mut Vec<usize>) {
        self.matching_dyn(ev, scratch, out)
    }

    /// [`RuleSet::matching_into`] for a trait object.
    pub fn matching_dyn(&self, ev: &dyn Event, scratch: &mut Scratch, out: &mut Vec<usize>) {
        out.clear();
        self.candidates(ev, scratch);
        if ev.cheap_lookup() {
            for &r in &scratch.candidates {
                if self.rules[r as usize].matches_dyn(ev) {
                    out.push(self.source[r as usize]);
                }
            }
            return;
        }
        let cached = crate::event::Cached::new(ev);
        for &r in &scratch.candidates {
            if self.rules[r as usize].matches_dyn(&cached) {
                out.push(self.source[r as usize]);
            }
        }
    }

    /// The rules that pass both prefilters, sorted, in `scratch.candidates`.
    fn candidates(&self, ev: &dyn Event, s: &mut Scratch) {
        s.candidates.clear();
        s.candidates.extend_from_slice(&self.always);
        if self.ac.is_none() && self.keys.is_empty() {
            return;
        }
        s.generation = s.generation.wrapping_add(1);
        if s.generation == 0 {
            s.literal_seen.iter_mut().for_each(|x| *x = 0);
            s.rule_seen.iter_mut().for_each(|x| *x = 0);
            s.key_seen.iter_mut().for_each(|x| *x = 0);
            s.generation = 1;
        }
        s.literal_seen.resize(self.literal_rules.len(), 0);
        s.rule_seen.resize(self.rules.len(), 0);
        s.key_seen.resize(self.keys.key_count(), 0);
        let generation = s.generation;
        let Scratch {
            literal_seen,
            rule_seen,
            key_seen,
            candidates,
            folded,
            ..
        } = s;
        // Keys first: a rule behind both prefilters needs a key hit before its literal
        // counts.
        if !self.keys.is_empty() {
            self.keys.hits(ev, &mut |k| {
                if key_seen[k as usize] != generation {
                    key_seen[k as usize] = generation;
                    for &r in self.keys.rules_of(k) {
                        if rule_seen[r as usize] != generation {
                            rule_seen[r as usize] = generation;
                            candidates.push(r);
                        }
                    }
                }
            });
        }
        if let Some(ac) = &self.ac {
            let mut scan = |text: &str, pre: Option<&str>| {
                let hay: &str = if let Some(pre) = pre {
                    pre
                } else if text.is_ascii() {
                    text
                } else {
                    folded.clear();
                    fold::fold_into(text, folded);
                    folded
                };
                for m in ac.find_overlapping_iter(hay) {
                    let k = m.pattern().as_usize();
                    if literal_seen[k] != generation {
                        literal_seen[k] = generation;
                        for &r in &self.literal_rules[k] {
                            let ri = r as usize;
                            if rule_seen[ri] != generation
                                && (!self.has_key[ri]
                                    || self.rule_keys[ri]
                                        .iter()
                                        .any(|k| key_seen[*k as usize] == generation))
                            {
                                rule_seen[ri] = generation;
                                candidates.push(r);
                            }
                        }
                    }
                }
            };
            ev.values_folded(&mut |v, pre| {
                v.with_text(|t| scan(t, pre));
                false
            });
        }
        s.candidates.sort_unstable();
    }
}
