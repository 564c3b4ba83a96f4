//! Properties of pipeline application over random IR.

use std::sync::Arc;

use proptest::prelude::*;
use sigil_core::ir::{CmpOp, Number, Pattern, Piece, Pred};
use sigil_core::{Expr, RuleIr};
use sigil_pipeline::Pipeline;

fn piece() -> impl Strategy<Value = Piece> {
    prop_oneof![
        "[a-z%*?\\\\]{1,4}".prop_map(Piece::Lit),
        Just(Piece::Star),
        Just(Piece::Question),
        prop_oneof![Just("P1"), Just("P2")].prop_map(|s| Piece::Placeholder(s.to_string())),
    ]
}

fn pred() -> impl Strategy<Value = Pred> {
    let field = prop_oneof![Just("a"), Just("c"), Just("d.e")].prop_map(String::from);
    prop_oneof![
        (
            field.clone(),
            prop::collection::vec(piece(), 0..5),
            any::<bool>()
        )
            .prop_map(|(field, pieces, cased)| Pred::Str {
                field,
                pattern: Pattern::from_pieces(pieces),
                cased
            }),
        (field.clone(), any::<i32>()).prop_map(|(field, n)| Pred::Num {
            field,
            op: CmpOp::Eq,
            value: Number::Int(n as i64),
            part: None
        }),
        field.clone().prop_map(|field| Pred::Null { field }),
        (field.clone(), field).prop_map(|(field, other)| Pred::FieldRef {
            field,
            other,
            kind: sigil_core::ir::RefKind::Equals,
            cased: false
        }),
    ]
}

fn expr() -> impl Strategy<Value = Expr> {
    pred()
        .prop_map(Expr::Pred)
        .prop_recursive(4, 32, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 2..4).prop_map(Expr::and),
                prop::collection::vec(inner.clone(), 2..4).prop_map(Expr::or),
                inner.prop_map(Expr::not),
            ]
        })
}

fn rule(e: Expr) -> RuleIr {
    RuleIr {
        meta: Arc::new(Default::default()),
        logsource: Default::default(),
        conditions: vec![e],
        fields: vec!["a".into(), "c".into()],
    }
}

fn run(yaml: &str, e: &Expr) -> Result<RuleIr, sigil_pipeline::PipelineError> {
    let p = Pipeline::from_yaml(yaml, "prop.yml").expect("pipeline loads");
    let mut r = rule(e.clone());
    p.apply(&mut r).map(|_| r)
}

proptest! {
    #[test]
    fn empty_pipeline_is_identity(e in expr()) {
        let r = run("name: empty\n", &e).unwrap();
        prop_assert_eq!(&r.conditions[0], &e);
    }

    #[test]
    fn mapping_then_inverse_restores(e in expr()) {
        let y = "transformations:\n  - type: field_name_mapping\n    mapping: {a: zz, d.e: yy}\n  - type: field_name_mapping\n    mapping: {zz: a, yy: d.e}\n";
        let r = run(y, &e).unwrap();
        prop_assert_eq!(&r.conditions[0], &e);
        prop_assert_eq!(r.fields, vec!["a".to_string(), "c".to_string()]);
    }

    #[test]
    fn one_to_many_mapping_duplicates_every_leaf_on_the_field(e in expr()) {
        let y = "transformations:\n  - type: field_name_mapping\n    mapping: {c: [c1, c2]}\n";
        let r = run(y, &e).unwrap();
        let mut before_c = 0;
        e.for_each_pred(&mut |p| {
            if let Pred::FieldRef { field, other, .. } = p {
                before_c += 1usize << (usize::from(field == "c") + usize::from(other == "c"));
            } else {
                before_c += if p.field() == Some("c") { 2 } else { 1 };
            }
        });
        let mut names_c = false;
        r.conditions[0].for_each_pred(&mut |p| {
            if p.field() == Some("c") { names_c = true; }
            if let Pred::FieldRef { other, .. } = p { if other == "c" { names_c = true; } }
        });
        prop_assert!(!names_c);
        // Constant folding cannot remove leaves (no constants are introduced).
        prop_assert_eq!(r.conditions[0].leaf_count(), before_c);
    }

    #[test]
    fn wildcard_placeholders_leave_none(e in expr()) {
        let r = run("transformations:\n  - type: wildcard_placeholders\n", &e).unwrap();
        r.conditions[0].for_each_pred(&mut |p| {
            if let Pred::Str { pattern, .. } = p {
                assert!(!pattern.has_placeholders(), "{pattern}");
            }
        });
    }

    #[test]
    fn value_placeholders_resolve_or_fail_loudly(e in expr()) {
        let y = "vars: {P1: [x, 'y*']}\ntransformations:\n  - type: value_placeholders\n";
        let mut has_p2 = false;
        e.for_each_pred(&mut |p| if let Pred::Str { pattern, .. } = p {
            has_p2 |= pattern.pieces().contains(&Piece::Placeholder("P2".into()));
        });
        match run(y, &e) {
            Ok(r) => {
                prop_assert!(!has_p2);
                r.conditions[0].for_each_pred(&mut |p| if let Pred::Str { pattern, .. } = p {
                    assert!(!pattern.has_placeholders());
                });
            }
            Err(err) => {
                prop_assert!(has_p2);
                prop_assert!(err.message.contains("%P2%"), "{}", err.message);
            }
        }
    }

    #[test]
    fn regex_transformation_is_anchored_and_valid(e in expr()) {
        let y = "transformations:\n  - type: wildcard_placeholders\n  - type: regex\n";
        let r = run(y, &e).unwrap();
        r.conditions[0].for_each_pred(&mut |p| {
            if let Pred::Regex { regex, .. } = p {
                assert!(regex.starts_with('^') && regex.ends_with('$'));
                assert!(regex::Regex::new(regex).is_ok(), "{regex}");
            }
        });
    }
}

/// The regex transformation matches exactly what the pattern matches (case-insensitively).
#[test]
fn regex_brackets_agree_with_pattern() {
    let y = "transformations:\n  - type: regex\n";
    let p = Pipeline::from_yaml(y, "r.yml").unwrap();
    let pat = sigil_core::value::parse_sigma_string("C:\\Win*\\sys?em32\\\\*.EXE", false);
    let mut r = rule(Expr::Pred(Pred::Str {
        field: "a".into(),
        pattern: pat,
        cased: false,
    }));
    p.apply(&mut r).unwrap();
    let Expr::Pred(Pred::Regex { regex, flags, .. }) = &r.conditions[0] else {
        panic!("{}", r.conditions[0])
    };
    let re = regex::Regex::new(&format!("{}{regex}", flags.inline_prefix())).unwrap();
    for (s, want) in [
        ("c:\\windows\\SYSTEM32\\cmd.exe", true),
        ("C:\\Win\\sysXem32\\\n.exe", true),
        ("C:\\Win\\sysem32\\a.exe", false),
        ("xC:\\Win\\system32\\a.exe", false),
        ("C:\\Win\\system32\\a.exe.bak", false),
    ] {
        assert_eq!(re.is_match(s), want, "{s}");
    }
}
