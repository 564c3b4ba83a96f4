//! The seed rule, configuration, --fix (text edits, atomic write), SARIF/JSON output.

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use sigil_check::{check, fix, render, resolve_spans, Config, Finding, Severity};
use sigil_core::collection::find_rule_files;
use sigil_core::load::{load_file, load_str};
use sigil_core::Collection;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn run_set(set: &Collection, config: &Config) -> Vec<Finding> {
    let lowered = set.lower();
    let mut f = check(set, &lowered, config);
    resolve_spans(set, &mut f);
    f
}

fn run_str(src: &str, name: &str, config: &Config) -> Vec<Finding> {
    run_set(&Collection::from_files(vec![load_str(src, name)]), config)
}

fn shown(f: &[Finding]) -> Vec<(&str, u32, u32)> {
    f.iter()
        .filter(|f| f.severity >= Severity::Warning)
        .map(|f| {
            let s = f.span.unwrap_or_default();
            (f.validator, s.line, s.column)
        })
        .collect()
}

/// `sigil check rules/cloudtrail/sts_get_caller_identity.yml` reports exactly the seed
/// rule's two real problems.
#[test]
fn seed_rule_reports_exactly_its_problems() {
    let files =
        find_rule_files(&[workspace().join("rules/cloudtrail/sts_get_caller_identity.yml")])
            .unwrap();
    let set = Collection::from_files(files.iter().map(|p| load_file(p)).collect());
    assert_eq!(set.load_errors().count(), 0);
    let found = run_set(&set, &Config::default());
    let shown: Vec<_> = found
        .iter()
        .filter(|f| f.severity >= Severity::Warning)
        .map(|f| {
            let name = Path::new(&*f.file)
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned();
            (name, f.validator, f.message.clone(), f.help.clone())
        })
        .collect();
    assert_eq!(
        shown,
        vec![
            (
                "sts_get_caller_identity.yml".to_string(),
                "logsource_missing_product",
                "log source has `service: cloudtrail` but no `product`".to_string(),
                Some("add `product: aws` next to `service: cloudtrail`".to_string())
            ),
            (
                "sts_get_caller_identity.yml".to_string(),
                "tag_case",
                "tag 'attack.T1087.004' is not lower case".to_string(),
                Some("write 'attack.t1087.004'".to_string())
            ),
        ]
    );
}

const RULE: &str = "# Rule header comment, kept by --fix.
title: Odd Formatting
id: 0B0AB8D4-6B5E-4B2E-9A3C-2F3D9D9C4E11   # keep this comment
status: Experimental
description: A rule whose metadata needs mechanical repairs only.
author: Jane Doe
date: 2024/1/5
modified: '2024/02/01'
tags: [attack.Discovery, 'attack.T1033']   # flow style
logsource:
    category: process_creation
    product: windows
detection:
    selection:
        Image|endswith: '\\whoami.exe'   # trailing
    condition: selection
falsepositives:
    - Administrators
level: MEDIUM
";

#[test]
fn fix_edits_only_the_located_text() {
    let found = run_str(RULE, "odd_formatting.yml", &Config::default());
    let fixable: Vec<&Finding> = found.iter().filter(|f| f.fix.is_some()).collect();
    let ids: Vec<&str> = fixable.iter().map(|f| f.validator).collect();
    assert_eq!(
        ids,
        [
            "id_case",
            "enum_case",
            "date_format",
            "date_format",
            "tag_case",
            "tag_case",
            "enum_case"
        ]
    );
    let out = fix::apply(RULE, &fixable);
    assert_eq!((out.applied, out.skipped), (7, 0));
    let expected = RULE
        .replace(
            "0B0AB8D4-6B5E-4B2E-9A3C-2F3D9D9C4E11",
            "0b0ab8d4-6b5e-4b2e-9a3c-2f3d9d9c4e11",
        )
        .replace("status: Experimental", "status: experimental")
        .replace("date: 2024/1/5", "date: 2024-01-05")
        .replace("'2024/02/01'", "'2024-02-01'")
        .replace("attack.Discovery", "attack.discovery")
        .replace("attack.T1033", "attack.t1033")
        .replace("level: MEDIUM", "level: medium");
    assert_eq!(out.text, expected);
    // Fixed text raises none of them again.
    let again = run_str(&out.text, "odd_formatting.yml", &Config::default());
    assert!(again.iter().all(|f| f.fix.is_none()), "{again:?}");
}

proptest! {
    /// Any mix of upper and lower case in tags: --fix lower-cases exactly the tags and
    /// nothing else, and the result has no tag_case finding.
    #[test]
    fn fix_lowercases_tags_only(upper in proptest::collection::vec(any::<bool>(), 12), quoted in any::<bool>()) {
        let tag = "attack.t1033";
        let tactic = "attack.discovery";
        let mut bits = upper.iter();
        let mut mix = |s: &str| -> String {
            s.chars().map(|c| if *bits.next().unwrap_or(&false) { c.to_ascii_uppercase() } else { c }).collect()
        };
        let (t1, t2) = (mix(tag), mix(tactic));
        let q = if quoted { "'" } else { "" };
        let src = format!(
            "title: Whoami Case\nid: 0b0ab8d4-6b5e-4b2e-9a3c-2f3d9d9c4e11\ntags:\n    - {q}{t2}{q}  # c\n    - {q}{t1}{q}\n\
             logsource:\n    category: process_creation\n    product: windows\n\
             detection:\n    sel:\n        Image|endswith: '\\whoami.exe'\n    condition: sel\n"
        );
        let found = run_str(&src, "whoami_case.yml", &Config::default());
        let fixes: Vec<&Finding> = found.iter().filter(|f| f.validator == "tag_case").collect();
        let expected_fixes = usize::from(t1 != tag) + usize::from(t2 != tactic);
        prop_assert_eq!(fixes.len(), expected_fixes);
        let out = fix::apply(&src, &fixes);
        prop_assert_eq!(out.applied, expected_fixes);
        prop_assert_eq!(out.text, src.replace(&t1, tag).replace(&t2, tactic));
    }
}

#[test]
fn config_disables_relevels_and_exempts() {
    let src =
        std::fs::read_to_string(workspace().join("rules/cloudtrail/sts_get_caller_identity.yml"))
            .unwrap();
    let name = "sts_get_caller_identity.yml";
    let cfg = Config::from_toml(
        "[check]\ndisable = ['logsource_missing_product']\n[check.levels]\ntag_case = 'error'\n",
        "t.toml",
    )
    .unwrap();
    let found = run_str(&src, name, &cfg);
    assert_eq!(shown(&found), vec![("tag_case", 18, 5)]);
    assert_eq!(
        found
            .iter()
            .find(|f| f.validator == "tag_case")
            .unwrap()
            .severity,
        Severity::Error
    );
    let cfg = Config::from_toml(
        "[check.exempt]\n'b96b69c7-b1d2-44a3-9c53-f419233cac95' = ['tag_case']\n",
        "t.toml",
    )
    .unwrap();
    assert_eq!(
        shown(&run_str(&src, name, &cfg)),
        vec![("logsource_missing_product", 9, 3)]
    );
    let cfg = Config::from_toml(
        "[check.exempt]\n'b96b69c7-b1d2-44a3-9c53-f419233cac95' = ['all']\n",
        "t.toml",
    )
    .unwrap();
    assert!(run_str(&src, name, &cfg).is_empty());
}

#[test]
fn sarif_and_json_output() {
    let src =
        std::fs::read_to_string(workspace().join("rules/cloudtrail/sts_get_caller_identity.yml"))
            .unwrap();
    let found: Vec<Finding> = run_str(
        &src,
        "rules/cloudtrail/sts_get_caller_identity.yml",
        &Config::default(),
    )
    .into_iter()
    .filter(|f| f.severity >= Severity::Warning)
    .collect();
    let sarif = render::sarif(&found);
    let results = &sarif["runs"][0]["results"];
    insta::assert_json_snapshot!("sarif_results", results);
    assert_eq!(sarif["version"], "2.1.0");
    let rules = sarif["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .unwrap();
    assert_eq!(rules.len(), sigil_check::VALIDATORS.len());
    for r in results.as_array().unwrap() {
        let i = r["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[i]["id"], r["ruleId"]);
    }
    let json: Vec<_> = found.iter().map(render::json).collect();
    insta::assert_json_snapshot!("json_findings", json);
    let text = render::text(&found[1], &src, true);
    assert!(
        text.contains("\x1b[1;33mwarning[tag_case]"),
        "colour: {text:?}"
    );
}

/// Duplicate values: case-insensitive unless `cased` (Unicode lower-casing), a number and
/// its text are the same value, and each repeat names the latest earlier occurrence, in
/// short lists and in long ones alike.
#[test]
fn value_duplicates_are_compared_as_lower_case_text() {
    let rule = |field: &str, values: &[&str]| {
        let list: String = values
            .iter()
            .map(|v| format!("            - {v}\n"))
            .collect();
        format!(
            "title: Duplicate values test\nid: 5e3a1f0e-5c9e-4b8e-9d7a-6b1f2f6f1a02\nstatus: test\n\
             description: Checks which values count as repeated in one list.\nauthor: sigil\n\
             date: 2024-01-01\nlogsource:\n    product: windows\n    category: process_creation\n\
             detection:\n    selection:\n        {field}:\n{list}    condition: selection\n\
             falsepositives:\n    - Unknown\nlevel: low\n"
        )
    };
    let dups = |field: &str, values: &[&str]| -> Vec<(usize, String)> {
        run_str(&rule(field, values), "dups.yml", &Config::default())
            .into_iter()
            .filter(|f| f.validator == "value_duplicate")
            .map(|f| {
                let line = f.span.map_or(0, |s| s.line as usize);
                (line, f.help.unwrap_or_default())
            })
            .collect()
    };
    // Values start on line 13.
    let short = dups(
        "CommandLine|contains",
        &["'ÉTÉ'", "'x'", "'été'", "'X'", "'x'"],
    );
    assert_eq!(
        short,
        [
            (15, "it is already value 1 of the list".to_string()),
            (16, "it is already value 2 of the list".to_string()),
            (17, "it is already value 4 of the list".to_string()),
        ]
    );
    assert!(dups(
        "CommandLine|contains|cased",
        &["'ÉTÉ'", "'été'", "'x'", "'X'"]
    )
    .is_empty());
    assert_eq!(dups("EventID", &["4688", "'4688'"]).len(), 1);
    // Twenty values, the last three repeating values 1, 2 and 19.
    let mut long: Vec<String> = (0..17).map(|i| format!("'v{i}'")).collect();
    long.extend(["'V0'", "'v1'", "'V16'"].map(String::from));
    let long: Vec<&str> = long.iter().map(String::as_str).collect();
    let found = dups("CommandLine|contains", &long);
    let helps: Vec<&str> = found.iter().map(|(_, h)| h.as_str()).collect();
    assert_eq!(
        helps,
        [
            "it is already value 1 of the list",
            "it is already value 2 of the list",
            "it is already value 17 of the list",
        ]
    );
}
