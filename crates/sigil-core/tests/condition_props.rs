//! Property tests of the condition parser: arbitrary text never panics and errors stay
//! inside the text; generated well-formed conditions parse to the tree they were built from.

use proptest::prelude::*;
use sigil_core::condition::{parse, Cond, Quantifier};

#[derive(Clone, Debug)]
enum Gen {
    Id(String),
    Of(&'static str, String),
    Not(Box<Gen>),
    And(Vec<Gen>),
    Or(Vec<Gen>),
}

fn ident() -> impl Strategy<Value = String> {
    "[a-z_][a-z0-9_.-]{0,8}".prop_filter("not a keyword", |s| {
        !["and", "or", "not", "of", "all", "any", "them"].contains(&s.as_str())
    })
}

fn gen() -> impl Strategy<Value = Gen> {
    let leaf = prop_oneof![
        ident().prop_map(Gen::Id),
        (
            prop_oneof![Just("1"), Just("all"), Just("any")],
            "[a-z_]{1,5}\\*?".prop_filter("not a keyword", |p| {
                !["and", "or", "not", "of", "all", "any"].contains(&p.as_str())
            })
        )
            .prop_map(|(q, p)| Gen::Of(q, p)),
    ];
    leaf.prop_recursive(6, 40, 4, |inner| {
        prop_oneof![
            inner.clone().prop_map(|g| Gen::Not(Box::new(g))),
            prop::collection::vec(inner.clone(), 2..4).prop_map(Gen::And),
            prop::collection::vec(inner, 2..4).prop_map(Gen::Or),
        ]
    })
}

/// Fully parenthesised text for a generated tree.
fn text(g: &Gen) -> String {
    match g {
        Gen::Id(s) => s.clone(),
        Gen::Of(q, p) => format!("{q} of {p}"),
        Gen::Not(x) => format!("not ({})", text(x)),
        Gen::And(v) => v
            .iter()
            .map(|x| format!("({})", text(x)))
            .collect::<Vec<_>>()
            .join(" and "),
        Gen::Or(v) => v
            .iter()
            .map(|x| format!("({})", text(x)))
            .collect::<Vec<_>>()
            .join(" or "),
    }
}

fn same(g: &Gen, c: &Cond) -> bool {
    match (g, c) {
        (Gen::Id(a), Cond::Ident { name, .. }) => a == name,
        (
            Gen::Of(q, p),
            Cond::Of {
                quantifier,
                pattern,
                ..
            },
        ) => {
            p == pattern
                && matches!(
                    (*q, quantifier),
                    ("1", Quantifier::One) | ("all", Quantifier::All) | ("any", Quantifier::Any)
                )
        }
        (Gen::Not(x), Cond::Not(y)) => same(x, y),
        (Gen::And(a), Cond::And(b)) | (Gen::Or(a), Cond::Or(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same(x, y))
        }
        _ => false,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_text_never_panics(s in "[ a-z()|1*_.-]{0,60}|\\PC{0,40}") {
        if let Err(e) = parse(&s) {
            prop_assert!(e.offset <= s.len());
            prop_assert!(!e.message.is_empty());
        }
    }

    #[test]
    fn generated_conditions_round_trip(g in gen()) {
        let t = text(&g);
        let c = parse(&t).map_err(|e| TestCaseError::fail(format!("{t}: {e:?}")))?;
        prop_assert!(same(&g, &c), "{} parsed as {:?}", t, c);
    }
}
