//! Many rules at once, behind two exact prefilters: an index of equality keys and a
//! literal scanner.
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
//! (and has none if one operand has none), `not` has none. Each field's literals (plus
//! the keyword literals) are searched in that field's values by one multi-literal scanner
//! ([`crate::grams`]: a cache-sized gram bitmap, then an in-place comparison; an
//! Aho-Corasick DFA over SigmaHQ's literals was 267 MB and every scanned byte waited on a
//! cache miss); only rules with a literal present, plus the rules without a literal set,
//! are evaluated. A rule with both a key set and a literal set is evaluated only when both
//! hit.
//!
//! **Literal formulas.** The wake-up set is one operand's literals; a woken rule then
//! passes a cheap check before evaluation: its [`Formula`], the same derivation keeping
//! every operand of an `And` (literals of five bytes or more; shorter ones, found in most
//! events, count as true), evaluated over the groups the scan saw. On the SigmaHQ windows
//! rules this halves the rules evaluated per event (16.1 to 10.7 without a pipeline, 9.0
//! to 4.6 with the log-source pipeline) for about 6% more scanning instructions.
//!
//! The prefilter is exact (never hides a match): values are scanned in the same case-folded
//! form as the literals, and numbers and booleans are scanned as the same text the string
//! predicates see. It relies on [`Event::values`]
//! reporting every value [`Event::field`] can.

use std::collections::HashMap;
use std::sync::Arc;

use sigil_core::ast::RuleMeta;
use sigil_core::ir::{Expr, Piece, Pred, RegexFlags, RuleIr};

use crate::event::{Event, Value};
use crate::fold;
use crate::grams::GramSet;
use crate::keyindex::{self, KeyFreq, KeyIndex, KeyVal};
use crate::presence;
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
    /// derived, nor a field they need).
    pub always: usize,
    /// Rules with neither set, evaluated only when the fields they need are present
    /// (`not Image: null` needs `Image`).
    pub gated: usize,
    /// Distinct literals in the scanners.
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
    /// Literals tied to the field they must occur in, and keyword literals (any string
    /// value).
    field_lits: Option<Literals>,
    /// Per field id, the scanner over that field's literals only (for events that
    /// report each value's field).
    per_field: Vec<Option<Literals>>,
    /// Scan gates, per scanner (field ids, then the keyword scanner): open on
    /// every event, or opened by these keys.
    always_open: Vec<bool>,
    key_opens: Vec<Vec<u32>>,
    any_lits: Option<Literals>,
    /// The fields of `field_lits`.
    lit_fields: FieldTable,
    /// Group (literal, field) → compiled rules requiring it.
    group_rules: Lists,
    /// Per compiled rule, its [`Formula`] program (empty: none).
    formulas: Lists,
    /// Equality keys → compiled rules.
    keys: KeyIndex,
    /// Per compiled rule: its key ids (any of them must hold), whether it is behind the
    /// key index / the literal scanner.
    rule_keys: Lists,
    has_key: Vec<bool>,
    always: Vec<u32>,
    /// Rules evaluated when every field they need is present: `needs.get(i)` lists the
    /// fields of `gated[i]` as positions in `need_fields` (name and path hash).
    gated: Vec<u32>,
    needs: Lists,
    need_fields: Vec<(Arc<str>, u64)>,
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
    group_seen: Vec<u32>,
    open_seen: Vec<u32>,
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

    /// The rules the last [`RuleSet::matching_into`] call evaluated, as positions in the
    /// set's compiled rules ([`RuleSet::rules`] order), for profiling.
    #[doc(hidden)]
    pub fn last_candidate_rules(&self) -> &[u32] {
        &self.candidates
    }
}

/// Where a required literal must occur: in the values of one field, or (keywords) in any
/// string value.
type Target = Option<String>;

/// A required-literal set: `None` = no requirement known; `Some(empty)` = never matches.
type Req = Option<Vec<(Target, String)>>;

fn pattern_lit(pieces: &[Piece]) -> Option<String> {
    pieces
        .iter()
        .filter_map(|p| match p {
            Piece::Lit(s) => Some(s),
            _ => None,
        })
        .max_by_key(|s| s.chars().count())
        .map(|s| fold::fold(s))
}

fn pred_req(p: &Pred) -> Option<(Target, String)> {
    match p {
        Pred::Str { field, pattern, .. } => {
            pattern_lit(pattern.pieces()).map(|l| (Some(field.clone()), l))
        }
        Pred::Keyword { pattern, .. } => pattern_lit(pattern.pieces()).map(|l| (None, l)),
        _ => None,
    }
}

/// The required literals of a regular expression, case-folded: its prefix literals (every
/// match starts with one of them) or, when that is better, the longest literal every match
/// contains ([`inner_literal`]: `(?i)\.exe\s+.*werfaultsecure\.exe` gives
/// `werfaultsecure.exe`, not `.exe`); `None` when neither is known.
fn regex_req(field: &str, regex: &str, flags: &RegexFlags) -> Option<Vec<(Target, String)>> {
    use regex_syntax::hir::literal::{ExtractKind, Extractor};
    let hir = regex_syntax::ParserBuilder::new()
        .case_insensitive(flags.ignore_case)
        .multi_line(flags.multi_line)
        .dot_matches_new_line(flags.dot_all)
        .build()
        .parse(regex)
        .ok()?;
    let seq = Extractor::new().kind(ExtractKind::Prefix).extract(&hir);
    let mut prefixes = vec![];
    for lit in seq.literals().into_iter().flatten() {
        match std::str::from_utf8(lit.as_bytes()) {
            Ok(text) if !text.is_empty() => prefixes.push(fold::fold(text)),
            _ => {
                prefixes.clear();
                break;
            }
        }
    }
    let inner = inner_literal(&hir).map(|l| fold::fold(&l));
    // A set is as selective as its shortest member.
    let shortest = prefixes.iter().map(|p| p.chars().count()).min();
    let out: Vec<String> = match (inner, shortest) {
        (Some(i), Some(n)) if i.chars().count() > n => vec![i],
        (Some(i), None) => vec![i],
        (_, Some(_)) => prefixes,
        (None, None) => return None,
    };
    let mut out: Vec<(Target, String)> = out
        .into_iter()
        .map(|l| (Some(field.to_string()), l))
        .collect();
    out.sort();
    out.dedup();
    Some(out)
}

/// The longest literal that every match of `hir` contains, if one is known: literal runs of
/// concatenations (a class of one character's case variants counts as that character),
/// looking into groups and repetitions of at least one. Alternations and optional parts
/// give nothing.
fn inner_literal(hir: &regex_syntax::hir::Hir) -> Option<String> {
    use regex_syntax::hir::HirKind;
    match hir.kind() {
        HirKind::Literal(_) | HirKind::Class(_) => exact_text(hir),
        HirKind::Capture(c) => inner_literal(&c.sub),
        HirKind::Repetition(r) if r.min >= 1 => inner_literal(&r.sub),
        HirKind::Concat(items) => {
            let mut best: Option<String> = None;
            let mut run = String::new();
            let keep = |cand: String, best: &mut Option<String>| {
                if best
                    .as_ref()
                    .is_none_or(|b| cand.chars().count() > b.chars().count())
                {
                    *best = Some(cand);
                }
            };
            for item in items {
                match exact_text(item) {
                    Some(p) => run.push_str(&p),
                    None => {
                        if !run.is_empty() {
                            keep(std::mem::take(&mut run), &mut best);
                        }
                        if let Some(inner) = inner_literal(item) {
                            keep(inner, &mut best);
                        }
                    }
                }
            }
            if !run.is_empty() {
                keep(run, &mut best);
            }
            best
        }
        _ => None,
    }
}

/// The text `hir` matches when it matches exactly one text (up to case): literals,
/// single-character classes, and groups and concatenations of them.
fn exact_text(hir: &regex_syntax::hir::Hir) -> Option<String> {
    use regex_syntax::hir::HirKind;
    match hir.kind() {
        HirKind::Literal(l) => std::str::from_utf8(&l.0).ok().map(str::to_string),
        HirKind::Class(_) => class_char(hir).map(String::from),
        HirKind::Capture(c) => exact_text(&c.sub),
        HirKind::Concat(items) => items.iter().map(exact_text).collect(),
        _ => None,
    }
}

/// The one character (up to case) a class matches: `[Ww]`, `[Kk\u{212A}]`.
fn class_char(hir: &regex_syntax::hir::Hir) -> Option<char> {
    use regex_syntax::hir::{Class, HirKind};
    let HirKind::Class(class) = hir.kind() else {
        return None;
    };
    let mut chars: Vec<char> = vec![];
    match class {
        Class::Unicode(u) => {
            for r in u.iter() {
                if (r.end() as u32 - r.start() as u32) > 3 {
                    return None;
                }
                chars.extend(r.start()..=r.end());
            }
        }
        Class::Bytes(b) => {
            for r in b.iter() {
                if r.end() - r.start() > 3 || r.end() >= 0x80 {
                    return None;
                }
                chars.extend((r.start()..=r.end()).map(char::from));
            }
        }
    }
    let first = fold::fold_char(*chars.first()?);
    (chars.len() <= 4 && chars.iter().all(|c| fold::fold_char(*c) == first)).then_some(first)
}

/// How many rules could use each (field, literal): common ones (a log source's
/// `Channel`, `Image` ending in `.exe`) select nothing, rare ones select well.
type Freq = HashMap<(Target, String), usize>;

/// Literals of positive string predicates, for the frequency count.
fn collect_literals(e: &Expr, out: &mut Vec<(Target, String)>) {
    match e {
        Expr::And(v) | Expr::Or(v) => v.iter().for_each(|x| collect_literals(x, out)),
        Expr::Pred(p) => out.extend(pred_req(p)),
        _ => {}
    }
}

/// Lower is better: the expected number of rules woken up by the set, with short literals
/// (which occur in almost every event) penalized.
const COMMON_COST: usize = 100_000;

fn cost(set: &[(Target, String)], freq: &Freq) -> usize {
    set.iter()
        .map(|k| {
            let f = freq.get(k).copied().unwrap_or(1);
            // Non-ASCII text is rare in events: even one such character selects well.
            let short = match k.1.len() {
                _ if !k.1.is_ascii() => 0,
                0..=2 => 10_000,
                3 => 1_000,
                4 => 100,
                _ => 0,
            };
            f + short
        })
        .sum()
}

/// A necessary condition of a rule over literal hits: the rule can match an event only if
/// its formula holds, an atom holding when one of its literals occurs in its field (as
/// the scanner reports it). One walk of the rule ([`Formula::of`]) gives both prefilter
/// inputs: the wake-up set ([`Formula::wake_set`], the cheapest operand of an `And`) says
/// when to look at a rule; the formula (every operand of an `And`) then drops most woken
/// rules (`Image|contains: '\Windows\'` woke a rule that also needs
/// `CommandLine|contains: '\..\..\'`) for a few bit tests instead of an evaluation.
#[derive(Clone, Debug, PartialEq)]
enum Formula {
    True,
    False,
    /// One of these literals occurs.
    Any(Vec<(Target, String)>),
    And(Vec<Formula>),
    Or(Vec<Formula>),
}

/// Formulas with more atoms than this are not kept (the wake-up set alone decides).
const MAX_FORMULA_ATOMS: usize = 256;

/// Literals shorter than this are no atoms (the formula treats them as true): they occur
/// in most events, so scanning for them costs more than the rules they would drop.
const MIN_ATOM_LEN: usize = 5;

impl Formula {
    /// The literal tree of an expression: every literal an atom, short ones included
    /// ([`Formula::wake_set`] weighs them, [`Formula::without_short_atoms`] drops them).
    /// `skip`: the rule's own equality keys; an equality that is one of them gives no
    /// literal (the key index already tests it, and such log-source literals, `Channel:
    /// ...Sysmon/Operational`, occur in every event of their source).
    fn of(e: &Expr, skip: &[(String, KeyVal)]) -> Formula {
        let atoms = |set: Option<Vec<(Target, String)>>| match set {
            Some(set) if set.is_empty() => Formula::False,
            Some(mut set) => {
                set.sort();
                set.dedup();
                Formula::Any(set)
            }
            None => Formula::True,
        };
        match e {
            Expr::Const(false) => Formula::False,
            Expr::Const(true) | Expr::Not(_) => Formula::True,
            Expr::Pred(p @ Pred::Str { .. })
                if keyindex::pred_key(p).is_some_and(|k| skip.contains(&k)) =>
            {
                Formula::True
            }
            Expr::Pred(Pred::Regex {
                field,
                regex,
                flags,
            }) => atoms(regex_req(field, regex, flags)),
            Expr::Pred(p) => atoms(pred_req(p).map(|k| vec![k])),
            Expr::And(items) => {
                Formula::junction(items.iter().map(|i| Formula::of(i, skip)).collect(), true)
            }
            Expr::Or(items) => {
                Formula::junction(items.iter().map(|i| Formula::of(i, skip)).collect(), false)
            }
        }
    }

    /// The wake-up set: literals one of which occurs in every event the rule matches (an
    /// `And` takes its cheapest operand's set, an `Or` the union of all); `None` when
    /// there is none.
    fn wake_set(&self, freq: &Freq) -> Req {
        match self {
            Formula::True => None,
            Formula::False => Some(vec![]),
            Formula::Any(set) => Some(set.clone()),
            Formula::And(items) => items
                .iter()
                .filter_map(|x| x.wake_set(freq))
                .min_by_key(|s| cost(s, freq)),
            Formula::Or(items) => {
                let mut out = vec![];
                for i in items {
                    out.extend(i.wake_set(freq)?);
                }
                Some(out)
            }
        }
    }

    /// The formula checked after waking: atoms with a literal shorter than
    /// [`MIN_ATOM_LEN`] hold (they are not scanned for).
    fn without_short_atoms(&self) -> Formula {
        match self {
            Formula::Any(set) if set.iter().any(|s| s.1.len() < MIN_ATOM_LEN) => Formula::True,
            Formula::And(items) | Formula::Or(items) => Formula::junction(
                items.iter().map(Formula::without_short_atoms).collect(),
                matches!(self, Formula::And(_)),
            ),
            f => f.clone(),
        }
    }

    /// `And` (`and`) or `Or` of `items`, simplified as [`Expr::and`]/[`Expr::or`] do: the
    /// absorbing constant decides, the neutral one is dropped, operands of the same kind
    /// are spliced in, one operand stands alone; and a disjunction of literal sets only is
    /// one set.
    fn junction(items: Vec<Formula>, and: bool) -> Formula {
        let (absorbing, neutral) = if and {
            (Formula::False, Formula::True)
        } else {
            (Formula::True, Formula::False)
        };
        let mut out = vec![];
        for f in items {
            match f {
                f if f == absorbing => return absorbing,
                f if f == neutral => {}
                Formula::And(v) if and => out.extend(v),
                Formula::Or(v) if !and => out.extend(v),
                f => out.push(f),
            }
        }
        if !and && !out.is_empty() && out.iter().all(|f| matches!(f, Formula::Any(_))) {
            let mut set: Vec<(Target, String)> = out
                .into_iter()
                .flat_map(|f| match f {
                    Formula::Any(v) => v,
                    _ => vec![],
                })
                .collect();
            set.sort();
            set.dedup();
            return Formula::Any(set);
        }
        match out.len() {
            0 => neutral,
            1 => out.pop().unwrap_or(neutral),
            _ if and => Formula::And(out),
            _ => Formula::Or(out),
        }
    }

    /// The formula of a woken rule: a top-level `And` operand that is exactly the
    /// rule's wake-up set holds whenever the rule is woken, so it is dropped.
    fn without_wake_set(self, wake: Option<&[(Target, String)]>) -> Formula {
        let (Formula::And(mut v), Some(wake)) = (self.clone(), wake) else {
            return self;
        };
        let mut wake = wake.to_vec();
        wake.sort();
        wake.dedup();
        if let Some(i) = v.iter().position(|f| *f == Formula::Any(wake.clone())) {
            v.remove(i);
        }
        Formula::junction(v, true)
    }

    fn atom_count(&self) -> usize {
        match self {
            Formula::True | Formula::False => 0,
            Formula::Any(v) => v.len(),
            Formula::And(v) | Formula::Or(v) => v.iter().map(Formula::atom_count).sum(),
        }
    }

    /// Prefix program for [`holds`]; `group` gives an atom's group id. An `And` tests its
    /// smallest operands first.
    fn compile(&self, group: &mut impl FnMut(&Target, &str) -> u32, out: &mut Vec<u32>) {
        let at = out.len();
        match self {
            Formula::True => out.push(OP_AND | 1),
            Formula::False => out.push(OP_OR | 1),
            Formula::Any(set) => {
                out.push(OP_OR);
                for (t, l) in set {
                    out.push(group(t, l));
                }
            }
            Formula::And(v) | Formula::Or(v) => {
                out.push(if matches!(self, Formula::And(_)) {
                    OP_AND
                } else {
                    OP_OR
                });
                let mut v: Vec<&Formula> = v.iter().collect();
                if matches!(self, Formula::And(_)) {
                    v.sort_by_key(|f| f.atom_count());
                }
                for f in v {
                    f.compile(group, out);
                }
            }
        }
        out[at] |= (out.len() - at) as u32;
    }
}

/// Formula program words: a group id, or an operator heading its operands, with the
/// length of the whole node (header included) in the low bits. `And` of nothing is true,
/// `Or` of nothing false.
const OP_AND: u32 = 0x8000_0000;
const OP_OR: u32 = 0xC000_0000;
const OP_MASK: u32 = 0xC000_0000;

/// Run the formula node at `program[0]` (see [`Formula::compile`]); `hit(g)` tells
/// whether group `g` was seen. Stops at the first operand that decides.
fn holds(program: &[u32], hit: &impl Fn(u32) -> bool) -> bool {
    let Some(&w) = program.first() else {
        return true;
    };
    if w & OP_AND == 0 {
        return hit(w);
    }
    let is_and = w & OP_MASK == OP_AND;
    let end = ((w & !OP_MASK) as usize).min(program.len());
    let body = &program[1..end];
    if !is_and && body.iter().all(|c| c & OP_AND == 0) {
        return body.iter().any(|&g| hit(g));
    }
    let mut i = 1;
    while i < end {
        let c = program[i];
        let len = if c & OP_AND == 0 {
            1
        } else {
            (c & !OP_MASK) as usize
        };
        if holds(&program[i..end], hit) != is_and {
            return !is_and;
        }
        i += len.max(1);
    }
    is_and
}

/// Lists of ids in one allocation (a `Vec<Vec<u32>>` costs a pointer chase, and a likely
/// cache miss, per list on the per-event path).
#[derive(Clone, Debug, Default)]
struct Lists {
    /// List `i` is `items[ends[i - 1]..ends[i]]`.
    ends: Vec<u32>,
    items: Vec<u32>,
}

impl Lists {
    fn new(lists: impl IntoIterator<Item = impl IntoIterator<Item = u32>>) -> Lists {
        let mut out = Lists::default();
        for l in lists {
            out.items.extend(l);
            out.ends.push(out.items.len() as u32);
        }
        out
    }

    #[inline]
    fn get(&self, i: u32) -> &[u32] {
        let i = i as usize;
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.items[start..self.ends[i] as usize]
    }

    fn len(&self) -> usize {
        self.ends.len()
    }
}

/// Field id of a keyword literal's group (any string value).
const ANY: u32 = u32::MAX;

/// Per literal, its groups (field id or [`ANY`], group id).
type LitGroups = Vec<Vec<(u32, u32)>>;

/// One literal scanner, and per literal the groups that require it.
struct Literals {
    scanner: GramSet,
    /// Per literal, the groups (ids) it wakes.
    by_lit: Lists,
}

impl Literals {
    fn build(list: Vec<String>, by_lit: Vec<Vec<(u32, u32)>>) -> Option<Literals> {
        (!list.is_empty()).then(|| Literals {
            scanner: GramSet::build(&list),
            by_lit: Lists::new(by_lit.into_iter().map(|l| l.into_iter().map(|(_, g)| g))),
        })
    }
}

/// The fields some rule requires a literal in: name → field id, an open-addressing table
/// on [`crate::fast::hash_path`] (the hash [`Event::values_with_path`] reports).
#[derive(Default)]
struct FieldTable {
    names: Vec<Arc<str>>,
    slots: Vec<(u64, u32)>,
}

impl FieldTable {
    fn id(&mut self, name: &str) -> u32 {
        match self.names.iter().position(|n| **n == *name) {
            Some(i) => i as u32,
            None => {
                self.names.push(Arc::from(name));
                (self.names.len() - 1) as u32
            }
        }
    }

    fn finish(&mut self) {
        let cap = (self.names.len() * 2).next_power_of_two().max(8);
        self.slots = vec![(0, ANY); cap];
        for (i, n) in self.names.iter().enumerate() {
            let h = crate::fast::hash_path(n);
            let mut at = h as usize & (cap - 1);
            while self.slots[at].1 != ANY {
                at = (at + 1) & (cap - 1);
            }
            self.slots[at] = (h, i as u32);
        }
    }

    #[inline]
    fn get(&self, name: &str, hash: u64) -> Option<u32> {
        let mask = self.slots.len().checked_sub(1)?;
        let mut at = hash as usize & mask;
        loop {
            let (h, id) = self.slots[at];
            if id == ANY {
                return None;
            }
            if h == hash && crate::bytes::same(self.names[id as usize].as_bytes(), name.as_bytes())
            {
                return Some(id);
            }
            at = (at + 1) & mask;
        }
    }
}

/// The literal tables of [`RuleSet::build`]: literal ids per scanner (0: field literals,
/// 1: keyword literals) and groups (scanner, literal, field) with the rules they wake.
#[derive(Default)]
struct GroupTables {
    literals: [HashMap<String, usize>; 2],
    literal_list: [Vec<String>; 2],
    groups: HashMap<(usize, usize, u32), u32>,
    /// Per group, the rules it wakes, and the rules whose formula reads it.
    wakes: Vec<Vec<u32>>,
    reads: Vec<Vec<u32>>,
    fields: FieldTable,
}

impl GroupTables {
    fn group(&mut self, target: &Target, lit: &str) -> u32 {
        let (a, field) = match target {
            Some(f) => (0, self.fields.id(f)),
            None => (1, ANY),
        };
        let list = &mut self.literal_list[a];
        let k = *self.literals[a].entry(lit.to_string()).or_insert_with(|| {
            list.push(lit.to_string());
            list.len() - 1
        });
        let (wakes, reads) = (&mut self.wakes, &mut self.reads);
        *self.groups.entry((a, k, field)).or_insert_with(|| {
            wakes.push(vec![]);
            reads.push(vec![]);
            (wakes.len() - 1) as u32
        })
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
        let mut t = GroupTables::default();
        let mut formulas: Vec<Vec<u32>> = vec![];
        let mut always = vec![];
        let mut gated = vec![];
        let mut needs: Vec<Vec<u32>> = vec![];
        let mut need_fields: Vec<(Arc<str>, u64)> = vec![];
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
        // A literal that many rules share is a log-source literal (`Channel: Security`):
        // it occurs in most events, so an `And` should pick almost anything else.
        let common = (rules.len() / 10).max(20);
        freq.values_mut()
            .filter(|f| **f >= common)
            .for_each(|f| *f = COMMON_COST);
        let key_freq = KeyFreq::new(rule_keys);
        let mut keys = KeyIndex::default();
        let mut rule_keys: Vec<Vec<u32>> = vec![];
        let mut has_key = vec![];
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
            let key_set = keyindex::keys(&whole, &key_freq);
            let tree = Formula::of(&whole, key_set.as_deref().unwrap_or_default());
            let req = tree
                .wake_set(&freq)
                // Empty literals give no selectivity.
                .filter(|set| set.iter().all(|s| !s.1.is_empty()));
            // A plain disjunction of literals is the wake-up set itself.
            let formula = match tree.without_short_atoms() {
                Formula::Any(_) => Formula::True,
                f => f.without_wake_set(req.as_deref()),
            };
            let mut program = vec![];
            if formula != Formula::True && formula.atom_count() <= MAX_FORMULA_ATOMS {
                formula.compile(
                    &mut |target, lit| {
                        let g = t.group(target, lit);
                        let reads = &mut t.reads[g as usize];
                        if reads.last() != Some(&id) {
                            reads.push(id);
                        }
                        g
                    },
                    &mut program,
                );
            }
            formulas.push(program);
            has_key.push(key_set.is_some());
            rule_keys.push(match key_set {
                Some(k) => keys.add(id, k, req.is_none(), crate::compile::intern),
                None => vec![],
            });
            match req {
                Some(set) => {
                    prefiltered += 1;
                    for (target, lit) in set {
                        let g = t.group(&target, &lit);
                        let g = &mut t.wakes[g as usize];
                        if g.last() != Some(&id) {
                            g.push(id);
                        }
                    }
                }
                _ if has_key[id as usize] => prefiltered += 1,
                _ => {
                    let fields = presence::needed(&whole);
                    if fields.is_empty() {
                        always.push(id);
                    } else {
                        gated.push(id);
                        let mut position = |f: &String| {
                            let at = need_fields.iter().position(|(n, _)| **n == **f);
                            at.unwrap_or_else(|| {
                                let name = crate::compile::intern(f);
                                let hash = crate::fast::hash_path(&name);
                                need_fields.push((name, hash));
                                need_fields.len() - 1
                            }) as u32
                        };
                        needs.push(fields.iter().map(&mut position).collect());
                    }
                }
            }
        }
        let GroupTables {
            literal_list,
            groups,
            wakes: group_rules,
            reads,
            fields: mut lit_fields,
            ..
        } = t;
        lit_fields.finish();
        let mut by_lit: [Vec<Vec<(u32, u32)>>; 2] = [
            vec![vec![]; literal_list[0].len()],
            vec![vec![]; literal_list[1].len()],
        ];
        let mut group_list: Vec<_> = groups.into_iter().collect();
        group_list.sort_unstable();
        // Scan gates: the scanner of field f (id f) and the keyword one (id
        // `n_fields`) are run only when a rule behind them can be a candidate: it has no
        // key, or one of its keys holds.
        let n_fields = lit_fields.names.len();
        let mut always_open = vec![false; n_fields + 1];
        let mut key_opens: Vec<Vec<u32>> = vec![vec![]; keys.key_count()];
        for &((a, _, field), g) in &group_list {
            let aut = if a == 1 { n_fields } else { field as usize };
            for &r in group_rules[g as usize].iter().chain(&reads[g as usize]) {
                if !has_key[r as usize] {
                    always_open[aut] = true;
                }
                for &k in &rule_keys[r as usize] {
                    key_opens[k as usize].push(aut as u32);
                }
            }
        }
        key_opens.iter_mut().for_each(|v| {
            v.sort_unstable();
            v.dedup();
        });
        for ((a, k, field), g) in group_list {
            by_lit[a][k].push((field, g));
        }
        let [by_field, by_any] = by_lit;
        let [list_field, list_any] = literal_list;
        let literal_count = list_field.len() + list_any.len();
        // One scanner per field: a value is scanned only for its own field's
        // literals (fewer, and no wasted matches of other fields' literals).
        let mut per_field_lists: Vec<(Vec<String>, LitGroups)> =
            vec![(vec![], vec![]); lit_fields.names.len()];
        for (lit, groups) in list_field.iter().zip(&by_field) {
            let mut by_f: Vec<(u32, Vec<(u32, u32)>)> = vec![];
            for &(f, g) in groups {
                match by_f.iter_mut().find(|x| x.0 == f) {
                    Some(x) => x.1.push((f, g)),
                    None => by_f.push((f, vec![(f, g)])),
                }
            }
            for (f, gs) in by_f {
                let (l, b) = &mut per_field_lists[f as usize];
                l.push(lit.clone());
                b.push(gs);
            }
        }
        // Each field's scanner also holds the keyword literals, so a value of such a
        // field is scanned once.
        for (l, b) in per_field_lists.iter_mut() {
            l.extend(list_any.iter().cloned());
            b.extend(by_any.iter().cloned());
        }
        let field_lits = Literals::build(list_field, by_field);
        let any_lits = Literals::build(list_any, by_any);
        let per_field: Vec<Option<Literals>> = per_field_lists
            .into_iter()
            .map(|(l, b)| Literals::build(l, b))
            .collect();
        let stats = RuleSetStats {
            rules: compiled.len(),
            prefiltered: compiled.len() - always.len() - gated.len(),
            always: always.len(),
            gated: gated.len(),
            literals: literal_count,
            keyed: has_key.iter().filter(|k| **k).count(),
            keys: keys.key_count(),
        };
        debug_assert_eq!(stats.prefiltered, prefiltered);
        (
            RuleSet {
                rules: compiled,
                source,
                field_lits,
                per_field,
                always_open,
                key_opens,
                any_lits,
                lit_fields,
                group_rules: Lists::new(group_rules),
                formulas: Lists::new(formulas),
                keys,
                rule_keys: Lists::new(rule_keys),
                has_key,
                always,
                gated,
                needs: Lists::new(needs),
                need_fields,
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
        for (i, &r) in self.gated.iter().enumerate() {
            let present = |&f: &u32| {
                let (name, hash) = &self.need_fields[f as usize];
                ev.field_folded_hashed(name, *hash, &mut |_, _| true)
            };
            if self.needs.get(i as u32).iter().all(present) {
                s.candidates.push(r);
            }
        }
        if self.field_lits.is_none() && self.any_lits.is_none() && self.keys.is_empty() {
            s.candidates.sort_unstable();
            return;
        }
        s.generation = s.generation.wrapping_add(1);
        if s.generation == 0 {
            s.group_seen.iter_mut().for_each(|x| *x = 0);
            s.open_seen.iter_mut().for_each(|x| *x = 0);
            s.rule_seen.iter_mut().for_each(|x| *x = 0);
            s.key_seen.iter_mut().for_each(|x| *x = 0);
            s.generation = 1;
        }
        s.group_seen.resize(self.group_rules.len(), 0);
        s.open_seen.resize(self.always_open.len(), 0);
        s.rule_seen.resize(self.rules.len(), 0);
        s.key_seen.resize(self.keys.key_count(), 0);
        let generation = s.generation;
        let Scratch {
            group_seen,
            open_seen,
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
                    if let Some(opens) = self.key_opens.get(k as usize) {
                        for &a in opens {
                            open_seen[a as usize] = generation;
                        }
                    }
                    for &r in self.keys.rules_of(k) {
                        if rule_seen[r as usize] != generation {
                            rule_seen[r as usize] = generation;
                            candidates.push(r);
                        }
                    }
                }
            });
        }
        if self.field_lits.is_none() && self.any_lits.is_none() {
            candidates.sort_unstable();
            return;
        }
        let key_seen = &*key_seen;
        let mut wake = |g: u32| {
            if group_seen[g as usize] == generation {
                return;
            }
            group_seen[g as usize] = generation;
            for &r in self.group_rules.get(g) {
                let ri = r as usize;
                if rule_seen[ri] != generation
                    && (!self.has_key[ri]
                        || self
                            .rule_keys
                            .get(r)
                            .iter()
                            .any(|k| key_seen[*k as usize] == generation))
                {
                    rule_seen[ri] = generation;
                    candidates.push(r);
                }
            }
        };
        ev.values_with_path(&mut |path, v, pre| {
            // The field the value belongs to: `Some(id)` a field with literals, `Some(ANY)`
            // a field without, `None` unknown (any field).
            let field = path.map(|(p, h)| self.lit_fields.get(p, h).unwrap_or(ANY));
            let open = |a: usize| self.always_open[a] || open_seen[a] == generation;
            let any_on = self.any_lits.is_some()
                && matches!(v, Value::Str(_))
                && open(self.always_open.len() - 1);
            // Per-field automata hold only their field's groups and the keyword groups;
            // the global one (field unknown) wakes every group of a literal.
            let (first, second) = match field {
                Some(ANY) => (None, any_on.then_some(self.any_lits.as_ref()).flatten()),
                Some(f) if open(f as usize) || any_on => (
                    self.per_field.get(f as usize).and_then(Option::as_ref),
                    None,
                ),
                Some(_) => (None, None),
                None => (
                    self.field_lits.as_ref(),
                    any_on.then_some(self.any_lits.as_ref()).flatten(),
                ),
            };
            if first.is_none() && second.is_none() {
                return false;
            }
            v.with_text(|text| {
                // The scanner compares bytes: the value must be folded like the literals.
                let hay: &str = if let Some(pre) = pre {
                    pre
                } else if !fold::needs_fold(text) {
                    text
                } else {
                    folded.clear();
                    fold::fold_into(text, folded);
                    folded
                };
                for lits in [first, second].into_iter().flatten() {
                    lits.scanner.scan(hay.as_bytes(), &mut |k| {
                        for &g in lits.by_lit.get(k as u32) {
                            wake(g);
                        }
                    });
                }
            });
            false
        });
        let group_seen = &*group_seen;
        candidates.retain(|&r| {
            let program = self.formulas.get(r);
            holds(program, &|g| group_seen[g as usize] == generation)
        });
        candidates.sort_unstable();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(re: &str, ignore_case: bool) -> Option<Vec<String>> {
        let flags = RegexFlags {
            ignore_case,
            ..Default::default()
        };
        regex_req("F", re, &flags).map(|v| v.into_iter().map(|(_, l)| l).collect())
    }

    #[test]
    fn regex_literals() {
        // Prefixes when they are the better choice, the inner literal otherwise.
        assert_eq!(
            req("^(Foo|Bar)baz", false),
            Some(vec!["barbaz".into(), "foobaz".into()])
        );
        assert_eq!(
            req(
                r"(?i)\.exe[\x22']?\s+[^\x22]{0,64}werfaultsecure\.exe",
                false
            ),
            Some(vec!["werfaultsecure.exe".into()])
        );
        // Case-insensitive letters are classes of their variants.
        assert_eq!(
            req(r"\w+Invoke-Expression\s", true),
            Some(vec!["invoke-expression".into()])
        );
        // Inside groups and repetitions of at least one; not in optional parts.
        assert_eq!(
            req(r"\d(?:ab(cdef)x)+", false),
            Some(vec!["abcdefx".into()])
        );
        assert_eq!(req(r"\d(?:abcdef)?x", false), Some(vec!["x".into()]));
        assert_eq!(req(r"\w+`\w", false), Some(vec!["`".into()]));
        // Nothing required.
        assert_eq!(req(r"\w+(a|b)", false), None);
        assert_eq!(req(r"[a-z]+", false), None);
    }
}
