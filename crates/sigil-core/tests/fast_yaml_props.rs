//! Generated YAML read by the fast reader and by serde_yaml: wherever the fast reader
//! accepts the text it must produce the same documents. The generator covers the subset the
//! fast reader handles (and its edges: scalars that look like numbers, escapes, folding,
//! blank lines, comments, odd indentation), and mutated copies probe the edges of it.

use proptest::prelude::*;
use sigil_core::load::fast_reader_agrees;

/// Scalar text: words, number-like tokens, YAML keywords, indicator characters.
fn scalar_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z][a-zA-Z0-9_|.\\\\/*-]{0,12}",
        "[-+.0-9exobEXOB_]{1,8}",
        prop::sample::select(vec![
            "null",
            "Null",
            "~",
            "true",
            "FALSE",
            "yes",
            ".inf",
            "-.Inf",
            ".nan",
            "0x1F",
            "0o17",
            "0b101",
            "+12",
            "-0",
            "007",
            "1e3",
            "1_000",
            "2023-01-02",
            "2023/01/02",
            "-enc",
            ":x",
            "?y",
            "a#b",
            "a:b",
            "http://x.y/z",
            "18446744073709551616",
            "-9223372036854775809",
            "340282366920938463463374607431768211456",
            "é∑漢",
        ])
        .prop_map(str::to_string),
    ]
}

fn quoted(s: &str, double: bool) -> String {
    if double {
        let mut o = String::from("\"");
        for c in s.chars() {
            match c {
                '"' => o.push_str("\\\""),
                '\\' => o.push_str("\\\\"),
                '\n' => o.push_str("\\n"),
                'é' => o.push_str("\\u00e9"),
                c => o.push(c),
            }
        }
        o.push('"');
        o
    } else {
        format!("'{}'", s.replace('\'', "''"))
    }
}

/// A value written after `key:` or `- `.
#[derive(Clone, Debug)]
enum Node {
    Plain(String),
    Quoted(String, bool),
    Flow(Vec<String>),
    Block(&'static str, Vec<String>, usize),
    MultiLine(String, String, usize),
    Empty,
    Map(Vec<(String, Node)>, usize),
    Seq(Vec<Node>, usize, bool),
}

impl Node {
    /// The text after the indicator, for a parent at indentation `ind`.
    fn render(&self, ind: usize) -> String {
        match self {
            Node::Plain(s) => format!(" {s}"),
            Node::Quoted(s, d) => format!(" {}", quoted(s, *d)),
            Node::Flow(v) => format!(" [{}]", v.join(", ")),
            Node::Block(h, lines, extra) => {
                let pad = " ".repeat(ind + extra);
                let body: Vec<String> = lines
                    .iter()
                    .map(|l| {
                        if l.is_empty() {
                            String::new()
                        } else {
                            format!("{pad}{l}")
                        }
                    })
                    .collect();
                format!(" {h}\n{}", body.join("\n"))
            }
            Node::MultiLine(a, b, extra) => format!(" {a}\n{}{b}", " ".repeat(ind + extra)),
            Node::Empty => String::new(),
            Node::Map(entries, step) => {
                let mut o = String::new();
                for (k, v) in entries {
                    o.push('\n');
                    o.push_str(&" ".repeat(ind + step));
                    o.push_str(k);
                    o.push(':');
                    o.push_str(&v.render(ind + step));
                }
                o
            }
            Node::Seq(items, step, compact) => {
                let mut o = String::new();
                for (i, v) in items.iter().enumerate() {
                    o.push('\n');
                    o.push_str(&" ".repeat(ind + step));
                    o.push('-');
                    if *compact && i == 0 {
                        o.push_str(" k:");
                        o.push_str(&v.render(ind + step + 2));
                    } else {
                        o.push_str(&v.render(ind + step));
                    }
                }
                o
            }
        }
    }
}

fn node() -> impl Strategy<Value = Node> {
    let leaf = prop_oneof![
        scalar_text().prop_map(Node::Plain),
        (scalar_text(), any::<bool>()).prop_map(|(s, d)| Node::Quoted(s, d)),
        prop::collection::vec(scalar_text(), 0..4).prop_map(Node::Flow),
        (
            prop::sample::select(vec!["|", "|-", ">", ">-"]),
            prop::collection::vec(prop_oneof!["[a-z #:'\"-]{0,10}", Just(String::new())], 1..5),
            1usize..4,
        )
            .prop_map(|(h, l, e)| Node::Block(h, l, e)),
        (scalar_text(), scalar_text(), 1usize..3).prop_map(|(a, b, e)| Node::MultiLine(a, b, e)),
        Just(Node::Empty),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            (
                prop::collection::vec((scalar_text(), inner.clone()), 1..4),
                1usize..4
            )
                .prop_map(|(e, s)| Node::Map(e, s)),
            (prop::collection::vec(inner, 1..4), 0usize..3, any::<bool>())
                .prop_map(|(i, s, c)| Node::Seq(i, s, c)),
        ]
    })
}

fn document() -> impl Strategy<Value = String> {
    (
        prop::collection::vec((scalar_text(), node()), 1..6),
        prop::sample::select(vec!["", "---\n", "# c\n", "---\n# c\n"]),
        prop::sample::select(vec![
            "",
            "\n",
            "\n---\n",
            "\n---\nx: 1\n",
            "  # trailing\n",
            "\n\n",
        ]),
    )
        .prop_map(|(entries, head, tail)| {
            let mut o = String::from(head);
            for (k, v) in &entries {
                o.push_str(k);
                o.push(':');
                o.push_str(&v.render(0));
                o.push('\n');
            }
            o.push_str(tail);
            o
        })
}

fn agree(src: &str) -> Result<(), TestCaseError> {
    if let Some(Err(why)) = fast_reader_agrees(src) {
        return Err(TestCaseError::fail(format!("{src:?}\n{why}")));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]


    #[test]
    fn mutated_documents_read_the_same(
        src in document(),
        at in any::<prop::sample::Index>(),
        insert in prop::sample::select(vec![" ", "\n", ":", "#", "-", "'", "\"", "[", "]", "{", "|", ">", "&a ", "*a", "!t ", "  ", "\n  ", "---\n", "\\"]),
        delete in any::<bool>(),
    ) {
        let mut s = src.clone();
        let mut i = at.index(s.len() + 1);
        while !s.is_char_boundary(i) { i -= 1; }
        if delete && i < s.len() {
            let mut j = i + 1;
            while !s.is_char_boundary(j) { j += 1; }
            s.replace_range(i..j, "");
        } else {
            s.insert_str(i, insert);
        }
        agree(&s)?;
    }
}

#[test]
fn edge_cases_read_the_same() {
    for src in [
        "a: 1\n",
        "a:\n- 1\n- 2\nb: x\n",
        "a:\n  - k: 1\n    j: 2\n  - 3\n",
        "a: |\n  x\n\n  y\n\n\nb: 1\n",
        "a: >\n  x\n  y\n\n  z\n",
        "a: >-\n  x\n\n\n  y\n",
        "a: |\n\n  x\n",
        "a: x\n  y\n\n  z\n",
        "a: '' \nb: \"\" # c\n",
        "a: [ ]\nb: {}\nc: [a, 'b', \"c\"]\n",
        "---\n---\na: 1\n---\n",
        "# only\n---\na: 1\n",
        "a: 0x1F\nb: 0o17\nc: +12\nd: -0\ne: 007\nf: 1e3\ng: .5\nh: 1.\ni: -.inf\n",
        "? a\n: b\n",
        "a: &x 1\nb: *x\n",
        "a: !!str 1\n",
        "a: b: c\n",
        "a: 'it''s'\n",
        "a: \"\\x41\\u00e9\\U0001F600\\t\"\n",
        "  a: 1\n  b: 2\n",
        "- a\n- b: 1\n  c: 2\n-\n  - x\n",
        "a:\n    b: 1\n    c:\n      - x\n",
        "1: a\ntrue: b\n~: c\n",
    ] {
        if let Some(Err(why)) = fast_reader_agrees(src) {
            panic!("{src:?}\n{why}");
        }
    }
    // The subset really is read fast (not all declined).
    for src in [
        "a: 1\n",
        "a:\n- 1\n- 2\nb: x\n",
        "a: |\n  x\n\n  y\n\n\nb: 1\n",
        "a: >\n  x\n  y\n\n  z\n",
        "a: x\n  y\n\n  z\n",
        "a: [ ]\nb: {}\nc: [a, 'b', \"c\"]\n",
        "a: \"\\x41\\u00e9\\U0001F600\\t\"\n",
    ] {
        assert_eq!(fast_reader_agrees(src), Some(Ok(())), "{src:?}");
    }
}

/// Generated documents: no disagreement, and a real share of them read by the fast reader
/// (a generator whose output is always declined would prove nothing).
#[test]
fn generated_documents_read_the_same() {
    use proptest::test_runner::{Config, TestRunner};
    let accepted = std::cell::Cell::new(0usize);
    let cases = 4000;
    let mut runner = TestRunner::new(Config::with_cases(cases));
    let result = runner.run(&document(), |src| {
        if fast_reader_agrees(&src) == Some(Ok(())) {
            accepted.set(accepted.get() + 1);
        }
        agree(&src)
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    eprintln!(
        "{} of {cases} generated documents read by the fast reader",
        accepted.get()
    );
    assert!(
        accepted.get() * 4 >= cases as usize,
        "only {} accepted",
        accepted.get()
    );
}

/// What the fast reader leaves to serde_yaml is still loaded correctly: the loader's result
/// for these files comes from the fallback and is the same rule as the plain text gives.
#[test]
fn declined_inputs_load_through_serde_yaml() {
    let plain =
        "title: t\nlogsource:\n  product: p\ndetection:\n  sel:\n    a: 1\n  condition: sel\n";
    assert_eq!(fast_reader_agrees(plain), Some(Ok(())));
    let reference = sigil_core::load::load_str(plain, "t.yml");
    assert_eq!(reference.documents.len(), 1);
    for src in [
        plain.replace('\n', "\r\n"),              // CRLF
        plain.replace("    a: 1", "    a:\t1"),   // a tab
        plain.replace("title: t", "title: &x t"), // an anchor
        format!("%YAML 1.2\n---\n{plain}"),       // a directive
    ] {
        assert_eq!(
            fast_reader_agrees(&src),
            None,
            "should be declined: {src:?}"
        );
        let file = sigil_core::load::load_str(&src, "t.yml");
        assert!(file.errors.is_empty(), "{src:?}: {:?}", file.errors);
        assert_eq!(
            format!("{:?}", file.documents),
            format!("{:?}", reference.documents),
            "{src:?}"
        );
    }
    // A byte-order mark is removed before either reader sees the text (and remembered).
    let with_bom = sigil_core::load::load_str(&format!("\u{feff}{plain}"), "t.yml");
    assert!(with_bom.bom && !reference.bom);
    assert!(with_bom.errors.is_empty(), "{:?}", with_bom.errors);
    assert_eq!(&*with_bom.source, plain);
    assert_eq!(
        format!("{:?}", with_bom.documents),
        format!("{:?}", reference.documents)
    );
}
