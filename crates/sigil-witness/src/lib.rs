//! sigil-witness: candidate events ("witnesses") for a Sigma expression, for differential
//! tests of query backends against the matcher.
//!
//! [`witnesses`] builds, for one [`Expr`]:
//!
//! * events meant to **match**: the expression is walked with a wanted truth value
//!   (`And` wants every operand, `Or` one operand chosen per variant, `Not` flips), and every
//!   predicate on the way contributes field values that satisfy it (wildcards filled with
//!   nothing or with filler text, case swapped when the match is case-insensitive,
//!   numbers as JSON numbers and as numeric strings, regex samples drawn from the parsed
//!   pattern, addresses inside the network, ...);
//! * **near-misses**: one such event with the contribution of a single predicate replaced by
//!   a value that (almost) flips it: one character changed, the case changed for
//!   case-sensitive matches, the literal moved across a wildcard boundary (`abc*` gets
//!   `Xabc`), truncated, an IP just outside the network, a number off by one, the field
//!   missing or `null`;
//! * an event built to make the expression **false**, and the empty event.
//!
//! Labels are not produced on purpose: the matcher decides the truth of every event and
//! every engine must agree with it. Events are nested JSON objects (`userIdentity.arn`
//! becomes `{"userIdentity": {"arn": ...}}`; when a dotted name collides with a scalar at a
//! prefix, the dotted key is kept literally). Several values for one field become an array
//! (any element may match). Keyword predicates put their value in a field `kw_<n>`.
//!
//! The output depends only on the expression and [`WitnessOptions`] (no global randomness):
//! the same seed gives the same events.

use std::collections::HashSet;
use std::net::IpAddr;

use ipnet::IpNet;
use regex_syntax::hir::{Class, Hir, HirKind};
use serde_json::{Map, Value};
use sigil_core::ir::{CmpOp, Number, Pattern, Piece, RefKind, RegexFlags, TimePart};
use sigil_core::{Expr, Pred};

/// Knobs for [`witnesses`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WitnessOptions {
    /// Seed of every pseudo-random choice (branch choices, filler, mutated positions).
    pub seed: u64,
    /// Number of different ways of satisfying the expression (OR branches chosen).
    pub variants: usize,
    /// Upper bound on the number of events returned.
    pub max_events: usize,
}

impl Default for WitnessOptions {
    fn default() -> Self {
        WitnessOptions {
            seed: 0x0051_6711,
            variants: 3,
            max_events: 96,
        }
    }
}

/// Candidate events for `expr`: matches, near-misses, a falsifying event and `{}`.
pub fn witnesses(expr: &Expr, opts: &WitnessOptions) -> Vec<Value> {
    let mut rng = Rng::new(opts.seed);
    let mut must: Vec<Vec<Slot>> = Vec::new();
    let mut near: Vec<Vec<Slot>> = Vec::new();
    for k in 0..opts.variants.max(1) {
        let mut g = Gen {
            rng: Rng::new(opts.seed ^ (k as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)),
            leaf: 0,
        };
        let mut pos = Vec::new();
        g.satisfy(expr, true, &mut pos);
        let mut neg = Vec::new();
        g.leaf = 0;
        g.satisfy(expr, false, &mut neg);
        // Near-misses: flip one slot of the matching assignment.
        for (i, slot) in pos.iter().enumerate() {
            for alt in g.flip(slot) {
                let mut v = pos.clone();
                v[i] = alt;
                near.push(v);
            }
        }
        must.push(pos);
        must.push(neg);
    }
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    let mut push = |ev: Value, out: &mut Vec<Value>| {
        if seen.insert(ev.to_string()) {
            out.push(ev);
        }
    };
    push(Value::Object(Map::new()), &mut out);
    for a in &must {
        push(assemble(a), &mut out);
    }
    let mut rest: Vec<Value> = Vec::new();
    for a in &near {
        push(assemble(a), &mut rest);
    }
    rng.shuffle(&mut rest);
    let room = opts.max_events.saturating_sub(out.len());
    out.extend(rest.into_iter().take(room));
    out.truncate(opts.max_events.max(1));
    out
}

/// A tiny deterministic PRNG (SplitMix64).
#[derive(Clone, Debug)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed ^ 0xD1B5_4A32_D192_ED03)
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i + 1);
            v.swap(i, j);
        }
    }
}

/// A value a predicate puts in a field.
#[derive(Clone, Debug, PartialEq)]
enum Val {
    Json(Value),
    Null,
    Absent,
}

/// What one predicate contributes to an event.
#[derive(Clone, Debug, PartialEq)]
struct Slot {
    pred: Pred,
    leaf: usize,
    /// The truth value the slot was built for.
    want: bool,
    sets: Vec<(String, Val)>,
}

struct Gen {
    rng: Rng,
    leaf: usize,
}

impl Gen {
    fn satisfy(&mut self, e: &Expr, want: bool, out: &mut Vec<Slot>) {
        match e {
            Expr::Const(_) => {}
            Expr::Not(x) => self.satisfy(x, !want, out),
            Expr::Pred(p) => {
                let leaf = self.leaf;
                self.leaf += 1;
                let options = gen_pred(p, want, leaf, &mut self.rng);
                if !options.is_empty() {
                    let pick = self.rng.below(options.len().min(3));
                    out.push(Slot {
                        pred: p.clone(),
                        leaf,
                        want,
                        sets: options[pick].clone(),
                    });
                }
            }
            Expr::And(v) | Expr::Or(v) => {
                let all = matches!(e, Expr::And(_)) == want;
                if all {
                    for x in v {
                        self.satisfy(x, want, out);
                    }
                } else {
                    // One operand decides (true for Or, false for And); the others of an
                    // And are kept true so the event is a near-miss, not a wreck.
                    let pick = self.rng.below(v.len());
                    for (i, x) in v.iter().enumerate() {
                        if i == pick {
                            self.satisfy(x, want, out);
                        } else if !want {
                            self.satisfy(x, true, out);
                        } else {
                            self.skip(x);
                        }
                    }
                }
            }
        }
    }

    /// Advances leaf numbering over an operand that contributes nothing.
    fn skip(&mut self, e: &Expr) {
        self.leaf += e.leaf_count();
    }

    /// Alternatives for one slot with the predicate's truth flipped.
    fn flip(&mut self, s: &Slot) -> Vec<Slot> {
        gen_pred(&s.pred, !s.want, s.leaf, &mut self.rng)
            .into_iter()
            .take(6)
            .map(|sets| Slot {
                pred: s.pred.clone(),
                leaf: s.leaf,
                want: !s.want,
                sets,
            })
            .collect()
    }
}

type Sets = Vec<(String, Val)>;

fn one(field: &str, v: Val) -> Sets {
    vec![(field.to_string(), v)]
}

fn s(v: impl Into<String>) -> Val {
    Val::Json(Value::String(v.into()))
}

/// Candidate contributions making `p` hold (`want`) or fail (`!want`), best first.
fn gen_pred(p: &Pred, want: bool, leaf: usize, rng: &mut Rng) -> Vec<Sets> {
    match p {
        Pred::Str {
            field,
            pattern,
            cased,
        } => str_values(pattern, *cased, want, rng)
            .into_iter()
            .map(|v| one(field, v))
            .chain(absent_null(field, want))
            .collect(),
        Pred::Keyword { pattern, cased } => {
            let field = format!("kw_{leaf}");
            str_values(pattern, *cased, want, rng)
                .into_iter()
                .map(|v| one(&field, v))
                .collect()
        }
        Pred::Regex {
            field,
            regex,
            flags,
        } => regex_values(regex, *flags, want, rng)
            .into_iter()
            .map(|v| one(field, s(v)))
            .chain(absent_null(field, want))
            .collect(),
        Pred::Cidr { field, net } => cidr_values(net, want)
            .into_iter()
            .map(|v| one(field, s(v)))
            .chain(absent_null(field, want))
            .collect(),
        Pred::Num {
            field,
            op,
            value,
            part,
        } => num_values(*op, *value, *part, want)
            .into_iter()
            .map(|v| one(field, v))
            .chain(absent_null(field, want))
            .collect(),
        Pred::Bool { field, value } => {
            if want {
                vec![one(field, Val::Json(Value::Bool(*value)))]
            } else {
                let mut v = vec![one(field, Val::Json(Value::Bool(!value)))];
                v.extend(absent_null(field, false));
                v
            }
        }
        Pred::Null { field } => {
            if want {
                vec![one(field, Val::Absent), one(field, Val::Null)]
            } else {
                vec![one(field, s("x")), one(field, Val::Json(Value::from(0)))]
            }
        }
        Pred::Exists { field } => {
            if want {
                vec![one(field, s("x")), one(field, Val::Json(Value::from(0)))]
            } else {
                vec![one(field, Val::Absent), one(field, Val::Null)]
            }
        }
        Pred::FieldRef {
            field,
            other,
            kind,
            cased,
        } => {
            let base = "Ab1";
            let theirs = if *cased {
                base.to_string()
            } else {
                swap_case(base)
            };
            let mine = |o: &str| match kind {
                RefKind::Equals => o.to_string(),
                RefKind::Contains => format!("x{o}y"),
                RefKind::StartsWith => format!("{o}y"),
                RefKind::EndsWith => format!("x{o}"),
            };
            if want {
                vec![vec![
                    (field.clone(), s(mine(base))),
                    (other.clone(), s(theirs)),
                ]]
            } else {
                vec![
                    vec![(field.clone(), s(mine(base))), (other.clone(), s("Ab2"))],
                    vec![(field.clone(), s(mine(base))), (other.clone(), Val::Absent)],
                    vec![
                        (field.clone(), s(format!("{base}z"))),
                        (other.clone(), s(base)),
                    ],
                ]
            }
        }
    }
}

fn absent_null(field: &str, want: bool) -> Vec<Sets> {
    if want {
        vec![]
    } else {
        vec![one(field, Val::Absent), one(field, Val::Null)]
    }
}

fn swap_case(t: &str) -> String {
    t.chars()
        .map(|c| {
            if c.is_lowercase() {
                c.to_uppercase().next().unwrap_or(c)
            } else if c.is_uppercase() {
                c.to_lowercase().next().unwrap_or(c)
            } else {
                c
            }
        })
        .collect()
}

/// A different character of the same kind (`a`→`b`, `Z`→`A`, `7`→`8`, other → `x`).
fn change_char(c: char) -> char {
    match c {
        'a'..='y' | 'A'..='Y' | '0'..='8' => char::from_u32(c as u32 + 1).unwrap_or('x'),
        'z' => 'a',
        'Z' => 'A',
        '9' => '0',
        _ => 'x',
    }
}

fn change_at(t: &str, idx: usize) -> String {
    t.chars()
        .enumerate()
        .map(|(i, c)| if i == idx { change_char(c) } else { c })
        .collect()
}

/// Fills a pattern: stars with `star`, `?` with `q`.
fn fill(p: &Pattern, star: &str, q: &str, lits: impl Fn(&str) -> String) -> String {
    let mut out = String::new();
    for piece in p.pieces() {
        match piece {
            Piece::Lit(t) => out.push_str(&lits(t)),
            Piece::Star => out.push_str(star),
            Piece::Question => out.push_str(q),
            Piece::Placeholder(n) => out.push_str(n),
        }
    }
    out
}

fn str_values(p: &Pattern, cased: bool, want: bool, rng: &mut Rng) -> Vec<Val> {
    let same = |t: &str| t.to_string();
    let fillers = ["", "Zq9", "x"];
    let mut out = Vec::new();
    if want {
        let star = fillers[rng.below(fillers.len())];
        out.push(s(fill(p, star, "k", same)));
        out.push(s(fill(p, "", "Q", same)));
        if !cased {
            out.push(s(fill(p, star, "k", swap_case)));
        }
        if let Some(lit) = p.as_literal() {
            if let Ok(n) = lit.parse::<i64>() {
                if n.to_string() == lit {
                    out.push(Val::Json(Value::from(n)));
                }
            }
        }
        return dedup(out);
    }
    // Near-misses.
    let base = fill(p, "", "k", same);
    let lit_chars: Vec<usize> = {
        // Positions (in `base`) of characters that come from literals.
        let mut v = Vec::new();
        let mut i = 0;
        for piece in p.pieces() {
            match piece {
                Piece::Lit(t) => {
                    for _ in t.chars() {
                        v.push(i);
                        i += 1;
                    }
                }
                Piece::Question => i += 1,
                Piece::Placeholder(n) => i += n.chars().count(),
                Piece::Star => {}
            }
        }
        v
    };
    if !lit_chars.is_empty() {
        let at = lit_chars[rng.below(lit_chars.len())];
        out.push(s(change_at(&base, at)));
        out.push(s(change_at(&base, lit_chars[0])));
        out.push(s(change_at(&base, lit_chars[lit_chars.len() - 1])));
    }
    if cased && base.chars().any(|c| c.is_alphabetic()) {
        out.push(s(swap_case(&base)));
    }
    // The literal moved across the boundary of a wildcard (or of the value).
    if !p.starts_with_star() {
        out.push(s(format!("Q{base}")));
    }
    if !p.ends_with_star() {
        out.push(s(format!("{base}Q")));
    }
    if !base.is_empty() {
        let mut t = base.clone();
        t.pop();
        out.push(s(t));
    }
    if p.pieces().iter().any(|x| matches!(x, Piece::Question)) {
        out.push(s(fill(p, "", "", same)));
    }
    dedup(out)
}

fn dedup(v: Vec<Val>) -> Vec<Val> {
    let mut out: Vec<Val> = Vec::new();
    for x in v {
        if !out.contains(&x) {
            out.push(x);
        }
    }
    out
}

fn regex_values(regex: &str, flags: RegexFlags, want: bool, rng: &mut Rng) -> Vec<String> {
    let Ok(re) = regex::RegexBuilder::new(regex)
        .case_insensitive(flags.ignore_case)
        .multi_line(flags.multi_line)
        .dot_matches_new_line(flags.dot_all)
        .size_limit(1 << 22)
        .build()
    else {
        return vec![];
    };
    let Ok(hir) = regex_syntax::ParserBuilder::new()
        .case_insensitive(flags.ignore_case)
        .multi_line(flags.multi_line)
        .dot_matches_new_line(flags.dot_all)
        .build()
        .parse(regex)
    else {
        return vec![];
    };
    let mut samples = Vec::new();
    for extra in [false, true] {
        let mut t = String::new();
        sample(&hir, rng, extra, &mut t);
        samples.push(t);
    }
    let mut out: Vec<String> = Vec::new();
    let add = |t: String, out: &mut Vec<String>| {
        if re.is_match(&t) == want && !out.contains(&t) {
            out.push(t);
        }
    };
    if want {
        for t in &samples {
            add(t.clone(), &mut out);
            add(format!("Zq {t} 9x"), &mut out);
            add(swap_case(t), &mut out);
        }
        return out;
    }
    for t in &samples {
        let n = t.chars().count();
        if n > 0 {
            for at in [0, n - 1, rng.below(n), n / 2] {
                add(change_at(t, at), &mut out);
                let mut cut: String = t.chars().take(at).collect();
                cut.extend(t.chars().skip(at + 1));
                add(cut, &mut out);
            }
        }
        add(swap_case(t), &mut out);
    }
    add(String::new(), &mut out);
    add("x".into(), &mut out);
    out
}

/// A string the HIR matches (anchors ignored: the sample alone is the whole text).
fn sample(h: &Hir, rng: &mut Rng, extra: bool, out: &mut String) {
    match h.kind() {
        HirKind::Empty | HirKind::Look(_) => {}
        HirKind::Literal(l) => out.push_str(&String::from_utf8_lossy(&l.0)),
        HirKind::Class(Class::Unicode(c)) => {
            let members: Vec<char> = c
                .ranges()
                .iter()
                .flat_map(|r| {
                    let (a, b) = (r.start() as u32, (r.end() as u32).min(0x7E));
                    (a..=b).filter_map(char::from_u32)
                })
                .filter(|c| c.is_ascii_alphanumeric())
                .collect();
            let printable: Vec<char> = c
                .ranges()
                .iter()
                .flat_map(|r| {
                    let (a, b) = ((r.start() as u32).max(0x20), (r.end() as u32).min(0x7E));
                    (a..=b).filter_map(char::from_u32)
                })
                .collect();
            if !members.is_empty() {
                out.push(members[rng.below(members.len())]);
            } else if !printable.is_empty() {
                out.push(printable[rng.below(printable.len())]);
            } else if let Some(r) = c.ranges().first() {
                out.push(r.start());
            }
        }
        HirKind::Class(Class::Bytes(c)) => {
            if let Some(r) = c.ranges().first() {
                out.push(char::from(r.start().min(0x7F)));
            }
        }
        HirKind::Repetition(r) => {
            let mut n = r.min;
            if extra && r.max.is_none_or(|m| m > n) {
                n += 1;
            }
            for _ in 0..n.min(64) {
                sample(&r.sub, rng, extra, out);
            }
        }
        HirKind::Capture(c) => sample(&c.sub, rng, extra, out),
        HirKind::Concat(v) => v.iter().for_each(|x| sample(x, rng, extra, out)),
        HirKind::Alternation(v) => {
            let i = rng.below(v.len());
            sample(&v[i], rng, extra, out)
        }
    }
}

fn cidr_values(net: &IpNet, want: bool) -> Vec<String> {
    let net = net.trunc();
    let (first, last) = (net.network(), net.broadcast());
    let step = |ip: IpAddr, up: bool| -> Option<IpAddr> {
        match ip {
            IpAddr::V4(a) => {
                let n = u32::from(a);
                let m = if up {
                    n.checked_add(1)?
                } else {
                    n.checked_sub(1)?
                };
                Some(IpAddr::V4(m.into()))
            }
            IpAddr::V6(a) => {
                let n = u128::from(a);
                let m = if up {
                    n.checked_add(1)?
                } else {
                    n.checked_sub(1)?
                };
                Some(IpAddr::V6(m.into()))
            }
        }
    };
    let mut v: Vec<IpAddr> = Vec::new();
    if want {
        v.extend(step(first, true).filter(|ip| net.contains(ip)));
        v.push(first);
        v.push(last);
    } else {
        v.extend(step(first, false));
        v.extend(step(last, true));
    }
    let mut out: Vec<String> = v.iter().map(|ip| ip.to_string()).collect();
    if !want {
        out.push("not-an-ip".into());
    }
    out.dedup();
    out
}

fn num_values(op: CmpOp, value: Number, part: Option<TimePart>, want: bool) -> Vec<Val> {
    let targets: Vec<Number> = match (op, want) {
        (CmpOp::Eq, true) | (CmpOp::Gte, true) | (CmpOp::Lte, true) => vec![value],
        (CmpOp::Gt, true) => vec![bump(value, 1)],
        (CmpOp::Lt, true) => vec![bump(value, -1)],
        (CmpOp::Eq, false) => vec![bump(value, 1), bump(value, -1)],
        (CmpOp::Gt, false) | (CmpOp::Lt, false) => vec![value],
        (CmpOp::Gte, false) => vec![bump(value, -1)],
        (CmpOp::Lte, false) => vec![bump(value, 1)],
    };
    let mut extra = targets.clone();
    match (op, want) {
        (CmpOp::Gte, true) => extra.push(bump(value, 1)),
        (CmpOp::Lte, true) => extra.push(bump(value, -1)),
        (CmpOp::Gt, false) => extra.push(bump(value, -1)),
        (CmpOp::Lt, false) => extra.push(bump(value, 1)),
        _ => {}
    }
    let mut out = Vec::new();
    for n in extra {
        match part {
            Some(p) => {
                if let Some(ts) = timestamp_with(p, n) {
                    out.push(s(ts));
                }
            }
            None => {
                let j = match n {
                    Number::Int(i) => Value::from(i),
                    Number::Float(f) => Value::from(f),
                };
                out.push(s(j.to_string()));
                out.push(Val::Json(j));
            }
        }
    }
    if !want && part.is_none() {
        out.push(s("x"));
    }
    dedup(out)
}

fn bump(n: Number, by: i64) -> Number {
    match n {
        Number::Int(i) => Number::Int(i.saturating_add(by)),
        Number::Float(f) => Number::Float(f + by as f64 * 0.5),
    }
}

/// An RFC 3339 timestamp whose calendar part `p` is `n` (other parts fixed).
fn timestamp_with(p: TimePart, n: Number) -> Option<String> {
    let Number::Int(n) = n else { return None };
    let (mut y, mut mo, mut d, mut h, mut mi) = (2024i64, 3i64, 14i64, 12i64, 30i64);
    match p {
        TimePart::Minute if (0..60).contains(&n) => mi = n,
        TimePart::Hour if (0..24).contains(&n) => h = n,
        TimePart::Day if (1..=28).contains(&n) => d = n,
        TimePart::Month if (1..=12).contains(&n) => mo = n,
        TimePart::Year if (1970..=9999).contains(&n) => y = n,
        TimePart::Week if (1..=52).contains(&n) => {
            // 2024-01-01 is the Monday of ISO week 1; take the Wednesday of week n.
            let doy = 7 * (n - 1) + 3;
            let days = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
            let mut rem = doy;
            mo = 1;
            for len in days {
                if rem <= len {
                    break;
                }
                rem -= len;
                mo += 1;
            }
            d = rem;
        }
        _ => return None,
    }
    Some(format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:00Z"))
}

/// Builds the nested JSON event of a set of slots.
fn assemble(slots: &[Slot]) -> Value {
    // field -> Absent | Null | values; first absent/null wins over later values.
    let mut fields: Vec<(String, Val, Vec<Value>)> = Vec::new();
    for slot in slots {
        for (f, v) in &slot.sets {
            let idx = match fields.iter().position(|(k, _, _)| k == f) {
                Some(i) => i,
                None => {
                    let state = match v {
                        Val::Json(_) => Val::Json(Value::Null),
                        other => other.clone(),
                    };
                    fields.push((f.clone(), state, Vec::new()));
                    fields.len() - 1
                }
            };
            if let (Val::Json(_), Val::Json(x)) = (&fields[idx].1, v) {
                if !fields[idx].2.contains(x) {
                    fields[idx].2.push(x.clone());
                }
            }
        }
    }
    let mut root = Map::new();
    for (f, state, mut values) in fields {
        let v = match state {
            Val::Absent => continue,
            Val::Null => Value::Null,
            Val::Json(_) => match values.len() {
                0 => continue,
                1 => values.pop().unwrap_or(Value::Null),
                _ => Value::Array(values),
            },
        };
        insert_path(&mut root, &f, v);
    }
    Value::Object(root)
}

fn insert_path(root: &mut Map<String, Value>, field: &str, v: Value) {
    let parts: Vec<&str> = field.split('.').collect();
    if parts.len() > 1 && parts.iter().all(|p| !p.is_empty()) {
        // Walk / create objects; fall back to the literal key on any collision.
        let mut ok = true;
        {
            let mut cur: &Map<String, Value> = root;
            for p in &parts[..parts.len() - 1] {
                match cur.get(*p) {
                    None => break,
                    Some(Value::Object(m)) => cur = m,
                    Some(_) => {
                        ok = false;
                        break;
                    }
                }
            }
            if ok {
                let mut cur: &Map<String, Value> = root;
                let mut full = true;
                for p in &parts[..parts.len() - 1] {
                    match cur.get(*p) {
                        Some(Value::Object(m)) => cur = m,
                        _ => {
                            full = false;
                            break;
                        }
                    }
                }
                if full && cur.contains_key(parts[parts.len() - 1]) {
                    ok = false;
                }
            }
        }
        if ok {
            let mut cur = root;
            for p in &parts[..parts.len() - 1] {
                let entry = cur
                    .entry(p.to_string())
                    .or_insert_with(|| Value::Object(Map::new()));
                match entry {
                    Value::Object(m) => cur = m,
                    _ => return,
                }
            }
            cur.insert(parts[parts.len() - 1].to_string(), v);
            return;
        }
    }
    if !root.contains_key(field) {
        root.insert(field.to_string(), v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nested_paths_and_collisions() {
        let mut m = Map::new();
        insert_path(&mut m, "a.b", json!(1));
        insert_path(&mut m, "a.c", json!(2));
        insert_path(&mut m, "x", json!(3));
        insert_path(&mut m, "x.y", json!(4));
        assert_eq!(
            Value::Object(m),
            json!({"a": {"b": 1, "c": 2}, "x": 3, "x.y": 4})
        );
    }

    #[test]
    fn cidr_neighbours() {
        let net: IpNet = "10.0.0.0/8".parse().unwrap();
        assert_eq!(
            cidr_values(&net, true),
            ["10.0.0.1", "10.0.0.0", "10.255.255.255"]
        );
        assert_eq!(
            cidr_values(&net, false),
            ["9.255.255.255", "11.0.0.0", "not-an-ip"]
        );
    }

    #[test]
    fn week_timestamps() {
        assert_eq!(
            timestamp_with(TimePart::Week, Number::Int(1)).as_deref(),
            Some("2024-01-03T12:30:00Z")
        );
        assert_eq!(
            timestamp_with(TimePart::Week, Number::Int(10)).as_deref(),
            Some("2024-03-06T12:30:00Z")
        );
        assert_eq!(timestamp_with(TimePart::Hour, Number::Int(24)), None);
    }
}
