//! The matcher workloads, shared by `benches/match.rs` and `examples/profile.rs`: SigmaHQ
//! rules and the events they are measured on, read from `../shared/corpus`.
// Each of the two targets uses a part.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use serde_json::{Map, Value as Json};

#[path = "../../tests/common/mod.rs"]
mod common;
pub use common::{corpus, json_values, walk};

/// The rules under `dir`, lowered, with the named pipelines applied (what sigil's rows
/// compile into a RuleSet).
pub fn lowered_rules(dir: &Path, pipelines: &[String]) -> Vec<sigil_core::RuleIr> {
    let coll = sigil_core::Collection::load_paths(&[dir.to_path_buf()]).expect("load");
    let mut lowered = coll.lower();
    let p = sigil_pipeline::resolve(pipelines).expect("pipelines");
    let _ = p.apply_lowered(&mut lowered);
    lowered.rules
}

/// System fields and EventData/UserData fields at the top level.
pub fn flatten_evtx(ev: &Json) -> Json {
    let mut flat = Map::new();
    let e = &ev["Event"];
    let sys = &e["System"];
    let eid = if sys["EventID"].is_object() {
        sys["EventID"]["#text"].clone()
    } else {
        sys["EventID"].clone()
    };
    flat.insert("EventID".into(), eid);
    for k in [
        "Channel",
        "Computer",
        "Level",
        "Task",
        "Opcode",
        "Keywords",
        "EventRecordID",
    ] {
        if !sys[k].is_null() {
            flat.insert(k.into(), sys[k].clone());
        }
    }
    flat.insert(
        "Provider_Name".into(),
        sys["Provider"]["#attributes"]["Name"].clone(),
    );
    if let Some(t) = sys["TimeCreated"]["#attributes"]["SystemTime"].as_str() {
        flat.insert("@timestamp".into(), Json::from(t));
    }
    if let Some(data) = e["EventData"].as_object() {
        for (k, v) in data {
            flat.insert(k.clone(), v.clone());
        }
    }
    if let Some(user) = e["UserData"].as_object() {
        for inner in user.values().filter_map(Json::as_object) {
            for (k, v) in inner.iter().filter(|(k, _)| !k.starts_with('#')) {
                flat.insert(k.clone(), v.clone());
            }
        }
    }
    Json::Object(flat)
}

pub struct Workload {
    pub name: &'static str,
    pub rules_dir: PathBuf,
    /// JSON lines every engine reads.
    pub lines: Vec<String>,
    /// sigil only: the nested originals and their pipelines.
    pub nested: Option<Vec<String>>,
    pub pipelines: Vec<String>,
    pub nested_pipelines: Vec<String>,
}

pub fn windows() -> Workload {
    let c = corpus();
    let mut files = vec![];
    walk(
        &c.join("sigmahq/regression_data"),
        &|n| n.ends_with(".json"),
        &mut files,
    );
    let mut nested = vec![];
    let mut flat = vec![];
    for f in files {
        for v in json_values(&f) {
            flat.push(flatten_evtx(&v).to_string());
            nested.push(v.to_string());
        }
    }
    Workload {
        name: "windows",
        rules_dir: c.join("sigmahq/rules/windows"),
        lines: flat,
        nested: Some(nested),
        pipelines: vec!["windows-logsources".into()],
        nested_pipelines: vec!["windows-logsources".into(), "windows-evtx-json".into()],
    }
}

pub fn cloudtrail() -> Workload {
    let c = corpus();
    let mut files = vec![];
    walk(
        &c.join("cloudtrail/invictus-aws-dataset/CloudTrail"),
        &|n| n.ends_with(".json"),
        &mut files,
    );
    let mut lines = vec![];
    for v in files.iter().flat_map(|f| json_values(f)) {
        for r in v["Records"].as_array().expect("Records") {
            lines.push(r.to_string());
        }
    }
    Workload {
        name: "cloudtrail",
        rules_dir: c.join("sigmahq/rules/cloud/aws/cloudtrail"),
        lines,
        nested: None,
        pipelines: vec![],
        nested_pipelines: vec![],
    }
}
