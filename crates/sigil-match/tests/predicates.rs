//! One test per predicate kind, through the whole front end (YAML → IR → closures).

use serde_json::{json, Value as Json};
use sigil_match::{compile_expr, compile_rule_str, CompiledRule};

/// A rule with one selection `sel` made of the given YAML mapping body.
fn rule(detection: &str) -> CompiledRule {
    let src = format!(
        "title: t\nlogsource: {{product: test}}\ndetection:\n{}\n    condition: sel\n",
        detection
            .lines()
            .map(|l| format!("    {l}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    compile_rule_str(&src).unwrap_or_else(|e| panic!("{e}\n{src}"))
}

fn check(detection: &str, cases: &[(Json, bool)]) {
    let r = rule(detection);
    for (ev, want) in cases {
        assert_eq!(r.matches(ev), *want, "{detection}\nevent: {ev}");
    }
}

#[test]
fn plain_strings_case_insensitive() {
    check(
        "sel:\n    Image: 'C:\\Windows\\System32\\cmd.exe'",
        &[
            (json!({"Image": "c:\\windows\\system32\\CMD.EXE"}), true),
            (json!({"Image": "C:\\Windows\\System32\\cmd.exe "}), false),
            (json!({"Image": "C:\\Windows\\System32\\cmd.ex"}), false),
            (json!({"image": "C:\\Windows\\System32\\cmd.exe"}), false),
            (json!({}), false),
            (json!({"Image": null}), false),
            (json!({"Image": {"x": 1}}), false),
        ],
    );
}

#[test]
fn unicode_case_folding() {
    check(
        "sel:\n    User|contains: 'ΣΥΣΤΗΜΑ'",
        &[
            (json!({"User": "το σύστημα"}), false), // accent differs: not a case difference
            (json!({"User": "ΤΟ συστημα"}), true),
            (json!({"User": "συστημας"}), true),
            (json!({"User": "ςυςτημα"}), true), // final sigma folds to sigma
        ],
    );
    check(
        "sel:\n    Path|endswith: '\\straße'",
        &[
            (json!({"Path": "C:\\STRAẞE"}), true),
            (json!({"Path": "C:\\STRASSE"}), false),
        ],
    );
    // The Kelvin sign and long s fold to ASCII letters: non-ASCII text can match ASCII needles.
    check(
        "sel:\n    CommandLine|contains: 'sekurlsa'",
        &[
            (
                json!({"CommandLine": "mimikatz \u{17F}e\u{212A}urlsa::logonpasswords"}),
                true,
            ),
            (json!({"CommandLine": "SEKURLSA"}), true),
        ],
    );
    check(
        "sel:\n    User: 'İstanbul'",
        &[
            (json!({"User": "istanbul"}), false),
            (json!({"User": "İSTANBUL"}), true),
        ],
    );
}

#[test]
fn cased() {
    check(
        "sel:\n    Name|cased: 'AbC'",
        &[
            (json!({"Name": "AbC"}), true),
            (json!({"Name": "abc"}), false),
        ],
    );
    check(
        "sel:\n    Name|contains|cased: 'Σ'",
        &[
            (json!({"Name": "xΣy"}), true),
            (json!({"Name": "xσy"}), false),
        ],
    );
}

#[test]
fn wildcards_and_escapes() {
    check(
        "sel:\n    CommandLine: '* -enc *'",
        &[
            (json!({"CommandLine": "powershell -ENC abc"}), true),
            (json!({"CommandLine": "powershell -encabc"}), false),
        ],
    );
    check(
        "sel:\n    F: 'a?c*e'",
        &[
            (json!({"F": "abcde"}), true),
            (json!({"F": "aéce"}), true),
            (json!({"F": "ace"}), false),
        ],
    );
    // `\*` is a literal star, `\?` a literal question mark, `\\*` a backslash then a wildcard.
    check(
        "sel:\n    CommandLine|contains: ' -Filter \\*'",
        &[
            (json!({"CommandLine": "Get-ADUser -Filter *"}), true),
            (json!({"CommandLine": "Get-ADUser -Filter x"}), false),
        ],
    );
    check(
        "sel:\n    U|endswith: '\\?manifest=wac'",
        &[
            (json!({"U": "/x?manifest=wac"}), true),
            (json!({"U": "/xamanifest=wac"}), false),
        ],
    );
    check(
        "sel:\n    P: 'C:\\\\*'",
        &[
            (json!({"P": "C:\\anything"}), true),
            (json!({"P": "C:anything"}), false),
        ],
    );
}

#[test]
fn lists_maps_and_keywords() {
    check(
        "sel:\n    Image|endswith:\n        - '\\a.exe'\n        - '\\b.exe'\n        - '\\c.exe'\n        - '\\d.exe'\n    CommandLine|contains:\n        - one\n        - two\n        - three\n        - four\n        - five",
        &[
            (json!({"Image": "x\\B.EXE", "CommandLine": "FIVE"}), true),
            (json!({"Image": "x\\B.EXE", "CommandLine": "six"}), false),
            (json!({"Image": "x\\e.exe", "CommandLine": "one"}), false),
        ],
    );
    check(
        "sel:\n    - 'mimikatz'\n    - 'sekurlsa'",
        &[
            (json!({"a": {"b": ["x", "run MIMIKATZ now"]}}), true),
            (json!({"mimikatz": "x"}), false), // field names are not searched
            (json!({"n": 1}), false),
        ],
    );
    check(
        "sel:\n    '|all':\n        - 'foo'\n        - 'bar'",
        &[
            (json!({"a": "foo", "b": "BAR"}), true),
            (json!({"a": "foo"}), false),
        ],
    );
}

#[test]
fn numbers_vs_strings() {
    check(
        "sel:\n    EventID: 4625",
        &[
            (json!({"EventID": 4625}), true),
            (json!({"EventID": "4625"}), true),
            (json!({"EventID": 4625.0}), true),
            (json!({"EventID": " 4625"}), false),
            (json!({"EventID": "4625x"}), false),
            (json!({"EventID": [1, 4625]}), true),
            (json!({"EventID": 4624}), false),
        ],
    );
    check(
        "sel:\n    EventID|contains: 46",
        &[
            (json!({"EventID": 4625}), true),
            (json!({"EventID": 4525}), false),
        ],
    );
    check(
        "sel:\n    Count|gt: 10",
        &[
            (json!({"Count": 11}), true),
            (json!({"Count": "10.5"}), true),
            (json!({"Count": 10}), false),
            (json!({"Count": "abc"}), false),
        ],
    );
    check(
        "sel:\n    Count|lte: -1.5",
        &[(json!({"Count": -2}), true), (json!({"Count": -1}), false)],
    );
    check(
        "sel:\n    Big|gte: 9007199254740993",
        &[
            (json!({"Big": 9007199254740993u64}), true),
            (json!({"Big": 9007199254740992u64}), false),
        ],
    );
}

#[test]
fn booleans_and_null_and_exists() {
    check(
        "sel:\n    Enabled: true",
        &[
            (json!({"Enabled": true}), true),
            (json!({"Enabled": "TRUE"}), true),
            (json!({"Enabled": false}), false),
            (json!({"Enabled": 1}), false),
        ],
    );
    check(
        "sel:\n    Parent: null",
        &[
            (json!({}), true),
            (json!({"Parent": null}), true),
            (json!({"Parent": []}), true),
            (json!({"Parent": ""}), false),
            (json!({"Parent": {"a": 1}}), false),
        ],
    );
    check(
        "sel:\n    Parent|exists: true",
        &[
            (json!({"Parent": ""}), true),
            (json!({"Parent": null}), false),
            (json!({}), false),
        ],
    );
    check(
        "sel:\n    Parent|exists: false",
        &[(json!({"Parent": ""}), false), (json!({}), true)],
    );
    check(
        "sel:\n    Parent: ''",
        &[(json!({"Parent": ""}), true), (json!({}), false)],
    );
}

#[test]
fn missing_field_under_not() {
    let r = compile_rule_str(
        "title: t\nlogsource: {product: test}\ndetection:\n    sel: {a: x}\n    f: {b: y}\n    condition: sel and not f\n",
    )
    .unwrap();
    assert!(r.matches(&json!({"a": "x"})), "absent b: `not b=y` holds");
    assert!(r.matches(&json!({"a": "x", "b": "z"})));
    assert!(!r.matches(&json!({"a": "x", "b": "Y"})));
}

#[test]
fn regex() {
    check(
        "sel:\n    CommandLine|re: 'cmd\\.exe /c \\w+'",
        &[
            (json!({"CommandLine": "C:\\cmd.exe /c whoami && x"}), true), // unanchored
            (json!({"CommandLine": "CMD.EXE /c whoami"}), false),         // case-sensitive
        ],
    );
    check(
        "sel:\n    CommandLine|re|i: '^CMD\\.EXE'",
        &[
            (json!({"CommandLine": "cmd.exe /c"}), true),
            (json!({"CommandLine": " cmd.exe"}), false),
        ],
    );
    check(
        "sel:\n    T|re|m: '^b$'",
        &[(json!({"T": "a\nb\nc"}), true)],
    );
    check("sel:\n    T|re|s: 'a.c'", &[(json!({"T": "a\nc"}), true)]);
    check(
        "sel:\n    T|re: 'a.c'",
        &[(json!({"T": "a\nc"}), false), (json!({"T": 1234}), false)],
    );
    check("sel:\n    T|re: '^12'", &[(json!({"T": 1234}), true)]);
}

#[test]
fn cidr_edges() {
    check(
        "sel:\n    ip|cidr: '10.0.0.0/8'",
        &[
            (json!({"ip": "10.0.0.0"}), true),
            (json!({"ip": "10.255.255.255"}), true),
            (json!({"ip": "11.0.0.0"}), false),
            (json!({"ip": "9.255.255.255"}), false),
            (json!({"ip": "::ffff:10.1.2.3"}), true),
            (json!({"ip": "10.1.2.3:443"}), false),
            (json!({"ip": "not an ip"}), false),
            (json!({"ip": ["1.1.1.1", "10.0.0.1"]}), true),
        ],
    );
    check(
        "sel:\n    ip|cidr: '192.168.1.128/25'",
        &[
            (json!({"ip": "192.168.1.127"}), false),
            (json!({"ip": "192.168.1.128"}), true),
            (json!({"ip": "192.168.1.255"}), true),
        ],
    );
    check(
        "sel:\n    ip|cidr: '0.0.0.0/0'",
        &[
            (json!({"ip": "255.255.255.255"}), true),
            (json!({"ip": "::1"}), false),
        ],
    );
    check(
        "sel:\n    ip|cidr: '1.2.3.4/32'",
        &[
            (json!({"ip": "1.2.3.4"}), true),
            (json!({"ip": "1.2.3.5"}), false),
        ],
    );
    check(
        "sel:\n    ip|cidr: 'fe80::/10'",
        &[
            (json!({"ip": "fe80::1"}), true),
            (json!({"ip": "FEBF:ffff::1"}), true),
            (json!({"ip": "fec0::1"}), false),
            (json!({"ip": "10.0.0.1"}), false),
        ],
    );
    check(
        "sel:\n    ip|cidr: '::/0'",
        &[(json!({"ip": "2001:db8::1"}), true)],
    );
}

#[test]
fn fieldref() {
    check(
        "sel:\n    User|fieldref: Target",
        &[
            (json!({"User": "Admin", "Target": "admin"}), true),
            (json!({"User": "Admin", "Target": "root"}), false),
            (json!({"User": "Admin"}), false),
            (json!({"User": 5, "Target": "5"}), true),
        ],
    );
    check(
        "sel:\n    Cmd|fieldref|contains: Img",
        &[(
            json!({"Cmd": "run C:\\X.EXE now", "Img": "c:\\x.exe"}),
            true,
        )],
    );
    check(
        "sel:\n    Cmd|fieldref|startswith|cased: Img",
        &[
            (json!({"Cmd": "Abc def", "Img": "Abc"}), true),
            (json!({"Cmd": "abc def", "Img": "Abc"}), false),
        ],
    );
    check(
        "sel:\n    Cmd|fieldref|endswith: Img",
        &[(json!({"Cmd": "x ΣΑ", "Img": "σα"}), true)],
    );
}

#[test]
fn time_parts() {
    check(
        "sel:\n    eventTime|hour: 11\n    eventTime|minute|gte: 40",
        &[
            (json!({"eventTime": "2023-07-10T11:42:36Z"}), true),
            (json!({"eventTime": "2023-07-10T13:42:36+02:00"}), true),
            (json!({"eventTime": "2023-07-10 11:39:00.123"}), false),
            (json!({"eventTime": "garbage"}), false),
        ],
    );
    check(
        "sel:\n    t|week: 53",
        &[
            (json!({"t": "2021-01-03"}), true),
            (json!({"t": "2021-01-04"}), false),
        ],
    );
    check(
        "sel:\n    t|year: 2023\n    t|month: 7\n    t|day: 10",
        &[(json!({"t": 1688989356}), true)],
    );
}

#[test]
fn encodings() {
    // base64offset of 'http' and utf16le ("wide") variants.
    check(
        "sel:\n    CommandLine|base64offset|contains: 'http'",
        &[
            (
                json!({"CommandLine": "powershell -e aHR0cDovL2V4YW1wbGU="}),
                true,
            ),
            (json!({"CommandLine": "powershell -e eGh0dHA="}), true),
            (json!({"CommandLine": "powershell -e nothing"}), false),
        ],
    );
    check(
        "sel:\n    CommandLine|wide|base64offset|contains: 'ping'",
        &[(json!({"CommandLine": "-enc cABpAG4AZwA="}), true)],
    );
}

#[test]
fn nested_arrays_and_dotted_fields() {
    check(
        "sel:\n    requestParameters.layers|contains: 'arn:aws:lambda'",
        &[
            (
                json!({"requestParameters": {"layers": ["x", "ARN:AWS:LAMBDA:us-east-1"]}}),
                true,
            ),
            (json!({"requestParameters": {"layers": ["x"]}}), false),
            (
                json!({"requestParameters.layers": "arn:aws:lambda:1"}),
                true,
            ),
        ],
    );
}

#[test]
fn const_and_placeholder_errors() {
    use sigil_core::ir::{Expr, Pattern, Piece, Pred};
    assert!(compile_expr(&Expr::Const(true))
        .unwrap()
        .matches(&json!({})));
    let p = Pattern::from_pieces([Piece::Placeholder("Admins".into())]);
    let e = Expr::Pred(Pred::Str {
        field: "User".into(),
        pattern: p,
        cased: false,
    });
    let err = compile_expr(&e).unwrap_err();
    assert!(err.message.contains("%Admins%"), "{err}");
    let bad = Expr::Pred(Pred::Regex {
        field: "x".into(),
        regex: "(".into(),
        flags: Default::default(),
    });
    assert!(compile_expr(&bad).is_err());
}

mod grouped {
    //! Patterns on one field under `or` are compiled as one group (exact, prefix and suffix
    //! needles packed together, `contains` needles in one automaton): the group must give
    //! what the patterns give one by one.

    use proptest::prelude::*;
    use serde_json::json;
    use sigil_core::ir::{Expr, Pattern, Piece, Pred};
    use sigil_match::{compile_expr, JsonEvent};

    /// A pattern of one of the shapes the group treats apart, or a general glob.
    fn pattern() -> impl Strategy<Value = Pattern> {
        let lit = "[aAbé.Ä]{1,4}";
        prop_oneof![
            lit.prop_map(|s| Pattern::literal(&s)),
            lit.prop_map(|s| Pattern::from_pieces([Piece::Lit(s), Piece::Star])),
            lit.prop_map(|s| Pattern::from_pieces([Piece::Star, Piece::Lit(s)])),
            lit.prop_map(|s| Pattern::from_pieces([Piece::Star, Piece::Lit(s), Piece::Star])),
            (lit, lit).prop_map(|(a, b)| Pattern::from_pieces([
                Piece::Lit(a),
                Piece::Question,
                Piece::Lit(b),
                Piece::Star
            ])),
        ]
    }

    fn pred(pattern: Pattern, cased: bool) -> Expr {
        Expr::Pred(Pred::Str {
            field: "f".into(),
            pattern,
            cased,
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]
        #[test]
        fn a_group_matches_what_its_patterns_match(
            pats in proptest::collection::vec(pattern(), 1..12),
            cased in any::<bool>(),
            hay in "[aAbé.Äx]{0,10}",
        ) {
            let one_by_one = pats.iter().any(|p| {
                compile_expr(&pred(p.clone(), cased)).expect("compile").matches(&json!({"f": hay}))
            });
            let group = compile_expr(&Expr::Or(pats.into_iter().map(|p| pred(p, cased)).collect()))
                .expect("compile");
            let ev = json!({"f": hay});
            prop_assert_eq!(group.matches(&ev), one_by_one);
            let mut fast = JsonEvent::default();
            fast.parse(&ev.to_string()).expect("parse");
            prop_assert_eq!(group.matches(&fast), one_by_one);
        }
    }
}
