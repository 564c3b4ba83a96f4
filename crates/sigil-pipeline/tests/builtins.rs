//! Built-in pipelines: they load, are listed, and rewrite rules as documented.

use sigil_core::{Document, RuleIr};
use sigil_pipeline::{builtins, resolve, Pipeline};

fn rule(src: &str) -> RuleIr {
    let file = sigil_core::load::load_str(src, "rule.yml");
    assert!(file.errors.is_empty(), "{:?}", file.errors);
    let Document::Rule(r) = &file.documents[0] else {
        panic!("not a rule")
    };
    sigil_core::lower::lower_rule(r).expect("lowers")
}

fn apply(specs: &[&str], src: &str) -> String {
    let p = resolve(&specs.iter().map(|s| s.to_string()).collect::<Vec<_>>()).expect("resolves");
    let mut r = rule(src);
    p.apply(&mut r).expect("applies");
    r.conditions
        .iter()
        .map(|c| format!("{c:#}"))
        .collect::<Vec<_>>()
        .join("\n---\n")
}

#[test]
fn every_builtin_loads() {
    for (name, desc) in builtins() {
        assert!(!desc.is_empty());
        let p = Pipeline::builtin(name).unwrap_or_else(|| panic!("{name} does not load"));
        assert_eq!(p.name, name);
        // Loading through from_yaml reports errors the builtin() shortcut would hide.
        assert!(resolve(&[name.to_string()]).is_ok());
    }
}

const PROC: &str = r#"
title: proc
logsource: {category: process_creation, product: windows}
detection:
  sel:
    Image|endswith: '\whoami.exe'
    CommandLine|contains: '/all'
  condition: sel
"#;

#[test]
fn windows_logsources_and_evtx_json() {
    insta::assert_snapshot!(apply(&["windows-evtx-json", "windows-logsources"], PROC));
}

const SEED: &str = include_str!("../../../rules/cloudtrail/sts_get_caller_identity.yml");

const CT: &str = r#"
title: ct
logsource: {product: aws, service: cloudtrail}
detection:
  sel:
    eventSource: iam.amazonaws.com
    userIdentity.arn|contains: ':assumed-role/'
    userIdentity.sessionContext.sessionIssuer.userName: admin
    requestParameters.bucketName: secret
    sourceIPAddress|cidr: 10.0.0.0/8
  condition: sel
"#;

#[test]
fn ecs_cloudtrail() {
    insta::assert_snapshot!(apply(&["ecs-cloudtrail"], SEED));
    insta::assert_snapshot!(apply(&["ecs-cloudtrail"], CT));
}

#[test]
fn cloudtrail_athena() {
    insta::assert_snapshot!(apply(&["cloudtrail-athena"], SEED));
    insta::assert_snapshot!(apply(&["cloudtrail-athena"], CT));
    let p = Pipeline::builtin("cloudtrail-athena").unwrap();
    assert_eq!(
        p.backend_options(),
        &[("layout".to_string(), "cloudtrail".to_string())]
    );
    assert!(p.check_backend("athena").is_ok());
    assert!(p.check_backend("lucene").is_err());
}

const SYSMON_REG: &str = r#"
title: reg
logsource: {category: registry_delete, product: windows}
detection:
  sel:
    TargetObject|contains: '\Run'
    Image|endswith: '\reg.exe'
  condition: sel
"#;

#[test]
fn sysmon_then_ecs_windows() {
    insta::assert_snapshot!(apply(&["ecs-windows", "sysmon"], PROC));
    insta::assert_snapshot!(apply(&["sysmon", "ecs-windows"], SYSMON_REG));
}

#[test]
fn sysmon_changes_logsource() {
    let p = Pipeline::builtin("sysmon").unwrap();
    let mut r = rule(PROC);
    p.apply(&mut r).unwrap();
    assert_eq!(r.logsource.service.as_deref(), Some("sysmon"));
    assert_eq!(r.logsource.category, None);
    assert_eq!(
        r.conditions[0].to_string().matches("EventID == 1").count(),
        1
    );
}

#[test]
fn windows_service_channel() {
    let src = "title: s\nlogsource: {product: windows, service: powershell}\ndetection:\n  sel: {ScriptBlockText|contains: Invoke-Mimikatz}\n  condition: sel\n";
    insta::assert_snapshot!(apply(&["windows-logsources"], src));
}

/// Every Windows log source of SigmaHQ's thor.yml gets its Channel (services) or its
/// Channel + EventID alternatives (categories) from windows-logsources.
#[test]
fn windows_logsources_cover_thor_yml() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/corpus/sigmahq/tests/thor.yml"
    );
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| {
        panic!("the SigmaHQ corpus is missing ({path}: {e}); CI provides ../shared/corpus")
    });
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).expect("thor.yml parses");
    let p = Pipeline::builtin("windows-logsources").unwrap();
    let mut checked = 0;
    for (_, e) in doc["logsources"].as_mapping().expect("logsources map") {
        let s = |k: &str| e.get(k).and_then(|v| v.as_str()).map(str::to_string);
        let has_conditions = e.get("conditions").is_some();
        let windows_service = s("product").as_deref() == Some("windows") && s("service").is_some();
        if !has_conditions && !windows_service {
            continue; // file-based sources (apache, linux, *.log) have no channel
        }
        let mut ls = String::new();
        for k in ["category", "product", "service"] {
            if let (Some(v), false) = (s(k), has_conditions && k == "service") {
                ls.push_str(&format!("{k}: '{v}', "));
            }
        }
        let src = format!(
            "title: t\nlogsource: {{{ls}}}\ndetection:\n  sel: {{x: y}}\n  condition: sel\n"
        );
        let mut r = rule(&src);
        p.apply(&mut r).unwrap();
        let text = r.conditions[0].to_string();
        if has_conditions {
            for (k, v) in e["conditions"].as_mapping().unwrap() {
                let k = k.as_str().unwrap();
                let vals: Vec<String> = match v {
                    serde_yaml::Value::Sequence(s) => s.iter().map(yaml_text).collect(),
                    other => vec![yaml_text(other)],
                };
                for v in vals {
                    assert!(
                        text.contains(&format!("{k} == {v}"))
                            || text.contains(&format!("{k} = '{v}'")),
                        "{ls}: {k}={v} missing in {text}"
                    );
                }
            }
        }
        let service = match e.get("rewrite") {
            Some(rw) => rw["service"].as_str().unwrap().to_string(),
            None => s("service").unwrap(),
        };
        let channels: Vec<String> = doc["logsources"]
            .as_mapping()
            .unwrap()
            .values()
            .filter(|x| {
                x.get("service").and_then(|v| v.as_str()) == Some(service.as_str())
                    && x.get("sources").is_some()
            })
            .flat_map(|x| {
                x["sources"].as_sequence().unwrap().iter().map(|s| {
                    s.as_str()
                        .unwrap()
                        .trim_start_matches("WinEventLog:")
                        .to_string()
                })
            })
            .collect();
        assert!(!channels.is_empty(), "{service} has no channel in thor.yml");
        for c in channels {
            assert!(
                text.contains(&format!("Channel = '{}'", c.replace('\'', "''"))),
                "{ls}: channel {c} missing in {text}"
            );
        }
        checked += 1;
    }
    assert!(checked > 60, "only {checked} log sources checked");
}

fn yaml_text(v: &serde_yaml::Value) -> String {
    match v {
        serde_yaml::Value::String(s) => s.clone(),
        serde_yaml::Value::Number(n) => n.to_string(),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn evtx_json_wmi_user_data() {
    let src = "title: w\nlogsource: {product: windows, service: wmi}\ndetection:\n  sel:\n    EventID: 5858\n    Operation|contains: cleareventlog\n  condition: sel\n";
    insta::assert_snapshot!(apply(&["windows-evtx-json", "windows-logsources"], src));
}
