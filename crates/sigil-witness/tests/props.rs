//! Witnesses are deterministic, and the matcher finds both a matching and a non-matching
//! witness for satisfiable and falsifiable expressions.

use std::path::PathBuf;

use proptest::prelude::*;
use serde_json::Value;
use sigil_core::ir::{CmpOp, Number, Pattern, Piece, RegexFlags};
use sigil_core::{Collection, Expr, Pred};
use sigil_witness::{witnesses, WitnessOptions};

fn verdicts(e: &Expr, events: &[Value]) -> (usize, usize) {
    let m = sigil_match::compile_expr(e).expect("matcher compiles");
    let t = events.iter().filter(|ev| m.matches(*ev)).count();
    (t, events.len() - t)
}

fn piece() -> impl Strategy<Value = Piece> {
    prop_oneof![
        3 => "[a-zA-Z0-9 .:/\\\\*?-]{1,6}".prop_map(Piece::Lit),
        1 => Just(Piece::Star),
        1 => Just(Piece::Question),
    ]
}

/// A leaf over its own field `f<i>`: satisfiable and falsifiable on its own.
fn leaf(i: usize) -> BoxedStrategy<Expr> {
    let f = format!("f{i}.v");
    let f2 = f.clone();
    let f3 = f.clone();
    let f4 = f.clone();
    let f5 = f.clone();
    let f6 = f.clone();
    let f7 = f.clone();
    prop_oneof![
        4 => (prop::collection::vec(piece(), 1..5), any::<bool>()).prop_filter_map(
            "a bare star is not falsifiable by a present value",
            move |(p, cased)| {
                let pattern = Pattern::from_pieces(p);
                let has_lit = pattern.literals().next().is_some();
                has_lit.then(|| Expr::Pred(Pred::Str { field: f.clone(), pattern, cased }))
            }),
        2 => (prop::sample::select(vec!["^ab+c$", "evil\\.exe", "(?:x|y)[0-9]{2,3}", "^C:\\\\Users", "a.c$"]), any::<bool>())
            .prop_map(move |(r, i)| Expr::Pred(Pred::Regex {
                field: f2.clone(), regex: r.to_string(),
                flags: RegexFlags { ignore_case: i, ..Default::default() } })),
        1 => prop::sample::select(vec!["10.0.0.0/8", "192.168.1.0/24", "172.16.0.0/12", "2001:db8::/32"])
            .prop_map(move |n| Expr::Pred(Pred::Cidr { field: f3.clone(), net: n.parse().unwrap() })),
        2 => (prop::sample::select(vec![CmpOp::Eq, CmpOp::Lt, CmpOp::Lte, CmpOp::Gt, CmpOp::Gte]), -50i64..50)
            .prop_map(move |(op, v)| Expr::Pred(Pred::Num { field: f4.clone(), op, value: Number::Int(v), part: None })),
        1 => any::<bool>().prop_map(move |b| Expr::Pred(Pred::Bool { field: f5.clone(), value: b })),
        1 => Just(Expr::Pred(Pred::Null { field: f6 })),
        1 => Just(Expr::Pred(Pred::Exists { field: f7 })),
    ]
    .boxed()
}

/// A tree of And/Or/Not over leaves with pairwise distinct fields.
fn tree() -> impl Strategy<Value = Expr> {
    (1usize..7, prop::collection::vec(0u8..3, 0..8), any::<u64>()).prop_flat_map(
        |(n, shape, salt)| {
            let leaves: Vec<BoxedStrategy<Expr>> = (0..n).map(leaf).collect();
            (leaves, Just(shape), Just(salt)).prop_map(|(leaves, shape, salt)| {
                // Combine leaves left to right with the operators in `shape`.
                let mut acc: Vec<Expr> = leaves;
                let mut k = 0;
                while acc.len() > 1 {
                    let op = shape
                        .get(k)
                        .copied()
                        .unwrap_or((salt >> (k % 60)) as u8 % 3);
                    k += 1;
                    let b = acc.pop().unwrap();
                    let a = acc.pop().unwrap();
                    acc.push(match op {
                        0 => Expr::and([a, b]),
                        1 => Expr::or([a, b]),
                        _ => Expr::and([a, Expr::not(b)]),
                    });
                }
                let e = acc.pop().unwrap();
                if salt % 5 == 0 {
                    Expr::not(e)
                } else {
                    e
                }
            })
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn deterministic(e in tree(), seed in any::<u64>()) {
        let opts = WitnessOptions { seed, ..Default::default() };
        prop_assert_eq!(witnesses(&e, &opts), witnesses(&e, &opts));
    }

    #[test]
    fn finds_true_and_false(e in tree(), seed in 0u64..4) {
        let opts = WitnessOptions { seed, ..Default::default() };
        let evs = witnesses(&e, &opts);
        prop_assert!(evs.len() <= opts.max_events);
        let (t, f) = verdicts(&e, &evs);
        prop_assert!(t > 0 && f > 0, "{} true, {} false for {}\n{:#?}", t, f, e, evs);
    }
}

fn corpus_rules(dir: &str) -> Vec<sigil_core::RuleIr> {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join(dir);
    let coll = Collection::load_paths(&[dir]).expect("rules load");
    let lowered = coll.lower();
    assert!(lowered.errors.is_empty(), "{:?}", lowered.errors);
    lowered.rules
}

#[test]
fn fixture_rules_get_true_and_false_witnesses() {
    let mut rules = corpus_rules("rules");
    rules.extend(corpus_rules("crates/sigil-lucene/tests/fixtures"));
    rules.extend(corpus_rules("crates/sigil-witness/tests/fixtures"));
    assert!(rules.len() >= 20);
    for r in &rules {
        for (i, c) in r.conditions.iter().enumerate() {
            let evs = witnesses(c, &WitnessOptions::default());
            let (t, f) = verdicts(c, &evs);
            assert!(
                t > 0 && f > 0,
                "{} condition {i}: {t} true, {f} false\n{c}\n{evs:#?}",
                r.meta.title
            );
        }
    }
}

#[test]
fn different_seeds_differ_somewhere() {
    let rules = corpus_rules("crates/sigil-lucene/tests/fixtures");
    let differ = rules.iter().any(|r| {
        let a = witnesses(
            &r.conditions[0],
            &WitnessOptions {
                seed: 1,
                ..Default::default()
            },
        );
        let b = witnesses(
            &r.conditions[0],
            &WitnessOptions {
                seed: 2,
                ..Default::default()
            },
        );
        a != b
    });
    assert!(differ, "the seed is not used");
}
