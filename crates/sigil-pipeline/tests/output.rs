//! Post-processing items and finalizers.

use sigil_core::{Document, RuleIr};
use sigil_pipeline::Pipeline;

fn rule() -> RuleIr {
    let src = "title: Seed \"rule\"\nid: b96b69c7-b1d2-44a3-9c53-f419233cac95\nlevel: low\nlogsource: {service: cloudtrail}\ndetection:\n  sel: {eventName: GetCallerIdentity}\n  condition: sel\n";
    let file = sigil_core::load::load_str(src, "seed.yml");
    let Document::Rule(r) = &file.documents[0] else {
        panic!()
    };
    sigil_core::lower::lower_rule(r).unwrap()
}

fn post(yaml: &str, query: &str) -> String {
    let p = Pipeline::from_yaml(yaml, "post.yml").unwrap_or_else(|e| panic!("{e}"));
    let mut r = rule();
    p.apply(&mut r).unwrap();
    p.postprocess(&r, query.to_string())
}

#[test]
fn embed() {
    let y = "postprocessing:\n  - type: embed\n    prefix: '['\n    suffix: ']'\n";
    assert_eq!(post(y, "a:b"), "[a:b]");
}

#[test]
fn simple_template() {
    let y = "name: p\npostprocessing:\n  - type: simple_template\n    template: '{{\"q\": \"{query}\", \"t\": \"{rule.title}\", \"l\": \"{rule.level}\", \"id\": \"{rule.id}\", \"p\": \"{pipeline.name}\"}}'\n";
    assert_eq!(
        post(y, "x"),
        r#"{"q": "x", "t": "Seed "rule"", "l": "low", "id": "b96b69c7-b1d2-44a3-9c53-f419233cac95", "p": "p"}"#
    );
}

#[test]
fn simple_template_reads_state() {
    let y = "transformations:\n  - type: set_state\n    key: index\n    val: cloudtrail-*\npostprocessing:\n  - type: simple_template\n    template: 'index={pipeline.state[index]} {query}'\n";
    assert_eq!(post(y, "q"), "index=cloudtrail-* q");
}

#[test]
fn json_embeds_query_escaped_like_python() {
    let y = "postprocessing:\n  - type: json\n    json_template: '{\"query\": \"%QUERY%\", \"n\": [1, {\"x\": \"é%QUERY%\"}]}'\n";
    assert_eq!(
        post(y, "a\"b"),
        r#"{"query": "a\"b", "n": [1, {"x": "\u00e9a\"b"}]}"#
    );
}

#[test]
fn replace_with_python_groups() {
    let y = "postprocessing:\n  - type: replace\n    pattern: '(\\w+):(\\w+)'\n    replacement: '\\2=\\1 $'\n";
    assert_eq!(post(y, "a:b"), "b=a $");
}

#[test]
fn nest_and_rule_conditions() {
    let y = "postprocessing:\n  - type: nest\n    items:\n      - type: embed\n        prefix: 'CT '\n        rule_conditions:\n          - type: logsource\n            service: cloudtrail\n      - type: embed\n        prefix: 'WIN '\n        rule_conditions:\n          - type: logsource\n            product: windows\n";
    assert_eq!(post(y, "q"), "CT q");
}

#[test]
fn postprocessing_sees_items_applied_to_the_rule() {
    let y = "transformations:\n  - id: m\n    type: field_name_prefix\n    prefix: x.\npostprocessing:\n  - type: embed\n    prefix: 'mapped '\n    rule_conditions:\n      - type: processing_item_applied\n        processing_item_id: m\n";
    assert_eq!(post(y, "q"), "mapped q");
}

fn fin(yaml: &str) -> String {
    Pipeline::from_yaml(yaml, "fin.yml")
        .unwrap_or_else(|e| panic!("{e}"))
        .finalize(vec!["a".into(), "b \"c\"".into()])
}

#[test]
fn finalizers() {
    assert_eq!(fin("name: x\n"), "a\nb \"c\"");
    assert_eq!(
        fin("finalizers:\n  - type: concat\n    separator: ' OR '\n    prefix: '('\n    suffix: ')'\n"),
        "(a OR b \"c\")"
    );
    assert_eq!(fin("finalizers:\n  - type: json\n"), r#"["a", "b \"c\""]"#);
    assert_eq!(
        fin("finalizers:\n  - type: json\n    indent: 2\n"),
        "[\n  \"a\",\n  \"b \\\"c\\\"\"\n]"
    );
    assert_eq!(fin("finalizers:\n  - type: yaml\n"), "- a\n- b \"c\"\n");
    assert_eq!(
        fin("finalizers:\n  - type: nested\n    finalizers:\n      - type: concat\n        separator: ','\n      - type: json\n"),
        r#""a,b \"c\"""#
    );
}
