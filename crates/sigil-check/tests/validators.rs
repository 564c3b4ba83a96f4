//! One fixture pair per validator (testdata/check/<id>/): `trigger` must raise it, `clean`
//! must not; the rendered diagnostics of the trigger are snapshotted.

use std::path::{Path, PathBuf};

use sigil_check::{check, render, resolve_spans, Config, Finding, SYNTAX, VALIDATORS};
use sigil_core::load::load_str;
use sigil_core::Collection;

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/check")
}

/// Load a fixture (a file, or every .yml/.yaml under a directory) with display names
/// relative to the workspace, so snapshots do not depend on the checkout's location.
fn load(path: &Path) -> Collection {
    let mut files = vec![];
    let mut stack = vec![path.to_path_buf()];
    while let Some(p) = stack.pop() {
        if p.is_dir() {
            for e in std::fs::read_dir(&p).unwrap() {
                stack.push(e.unwrap().path());
            }
        } else {
            files.push(p);
        }
    }
    files.sort();
    let root = testdata().join("../..");
    let root = root.canonicalize().unwrap();
    Collection::from_files(
        files
            .iter()
            .map(|p| {
                let text = std::fs::read_to_string(p).unwrap();
                let name = p
                    .canonicalize()
                    .unwrap()
                    .strip_prefix(&root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                load_str(&text, name)
            })
            .collect(),
    )
}

fn run(path: &Path) -> (Collection, Vec<Finding>) {
    let set = load(path);
    let errors: Vec<String> = set.load_errors().map(|e| e.to_string()).collect();
    assert!(
        errors.is_empty(),
        "{}: fixture does not load: {errors:?}",
        path.display()
    );
    let lowered = set.lower();
    let mut findings = check(&set, &lowered, &Config::default());
    resolve_spans(&set, &mut findings);
    (set, findings)
}

fn fixture(id: &str, kind: &str) -> PathBuf {
    let d = testdata().join(id);
    let file = d.join(format!("{kind}.yml"));
    if file.exists() {
        file
    } else {
        d.join(kind)
    }
}

#[test]
fn every_validator_has_fixtures() {
    let missing: Vec<&str> = VALIDATORS
        .iter()
        .filter(|v| v.id != SYNTAX)
        .filter(|v| !fixture(v.id, "trigger").exists() || !fixture(v.id, "clean").exists())
        .map(|v| v.id)
        .collect();
    assert!(
        missing.is_empty(),
        "validators without fixtures: {missing:?}"
    );
    for e in std::fs::read_dir(testdata()).unwrap() {
        let e = e.unwrap();
        if e.path().is_dir() {
            let name = e.file_name().to_string_lossy().into_owned();
            assert!(
                sigil_check::registry::validator(&name).is_some(),
                "testdata/check/{name} names no validator"
            );
        }
    }
}

#[test]
fn each_validator_triggers_and_stays_quiet() {
    let mut failures = vec![];
    for v in VALIDATORS.iter().filter(|v| v.id != SYNTAX) {
        let (trigger, clean) = (fixture(v.id, "trigger"), fixture(v.id, "clean"));
        if !trigger.exists() {
            continue; // reported by every_validator_has_fixtures
        }
        let (set, found) = run(&trigger);
        let mine: Vec<&Finding> = found.iter().filter(|f| f.validator == v.id).collect();
        if mine.is_empty() {
            failures.push(format!("{}: trigger fixture raised nothing", v.id));
            continue;
        }
        for f in &mine {
            assert_eq!(f.severity, v.severity, "{}: default severity", v.id);
            assert!(
                f.span.is_some(),
                "{}: finding without a position: {f:?}",
                v.id
            );
            assert_eq!(f.fix.is_some(), v.fixable, "{}: fixable flag", v.id);
        }
        let text: String = mine
            .iter()
            .map(|f| {
                let src = set
                    .files
                    .iter()
                    .find(|x| x.path == f.file)
                    .map(|x| x.source.to_string())
                    .unwrap_or_default();
                render::text(f, &src, false)
            })
            .collect::<Vec<_>>()
            .join("\n");
        insta::assert_snapshot!(v.id, text);
        let (_, found) = run(&clean);
        let noisy: Vec<String> = found
            .iter()
            .filter(|f| f.validator == v.id)
            .map(|f| f.message.clone())
            .collect();
        if !noisy.is_empty() {
            failures.push(format!("{}: clean fixture raised {noisy:?}", v.id));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The base rule every fixture starts from raises nothing at all.
#[test]
fn base_rule_is_clean() {
    let (_, found) = run(&testdata().join("tag_case/clean.yml"));
    let ids: Vec<(&str, &str)> = found
        .iter()
        .filter(|f| !f.validator.starts_with("filename_"))
        .map(|f| (f.validator, f.message.as_str()))
        .collect();
    assert!(ids.is_empty(), "{ids:?}");
}
