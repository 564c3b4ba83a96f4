//! Profiling driver (for `valgrind --tool=callgrind` and quick timing): the windows or
//! cloudtrail workload of `benches/match.rs`, one thread, JSON parsing included.
//!
//! `cargo run --release -p sigil-match --example profile -- WORKLOAD EVENTS [MODE]`
//! WORKLOAD: `windows` (flat events), `bare` (flat events, no log-source pipeline, the
//! rules as rsigma's no-pipeline row sees them), `nested` (evtx_dump layout + evtx pipeline),
//! `cloudtrail`. MODE: `value` (serde_json::Value events), `fast` (the default: the
//! crate's fast event type), `parse` (parsing only), `naive` (every rule, no RuleSet).

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde_json::{Map, Value as Json};

fn corpus() -> PathBuf {
    let p = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/corpus"
    ));
    assert!(
        p.join("sigmahq").is_dir(),
        "the corpus is missing under {}",
        p.display()
    );
    p.to_path_buf()
}

fn walk(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("read_dir")
        .map(|e| e.expect("entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, ext, out);
        } else if p.extension().and_then(|e| e.to_str()) == Some(ext) {
            out.push(p);
        }
    }
}

/// Same flattening as the bench.
fn flatten_evtx(ev: &Json) -> Json {
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

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let workload = args.get(1).map(String::as_str).unwrap_or("windows");
    let n: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(2000);
    let mode = args.get(3).map(String::as_str).unwrap_or("fast");
    let c = corpus();
    let (rules_dir, pipelines, lines): (PathBuf, Vec<String>, Vec<String>) = match workload {
        "cloudtrail" => {
            let mut files = vec![];
            walk(
                &c.join("cloudtrail/invictus-aws-dataset/CloudTrail"),
                "json",
                &mut files,
            );
            let mut lines = vec![];
            for f in files {
                let v: Json = serde_json::from_str(&std::fs::read_to_string(&f).expect("read"))
                    .expect("json");
                for r in v["Records"].as_array().expect("Records") {
                    lines.push(r.to_string());
                }
            }
            (c.join("sigmahq/rules/cloud/aws/cloudtrail"), vec![], lines)
        }
        w => {
            let nested = w == "nested";
            let mut files = vec![];
            walk(&c.join("sigmahq/regression_data"), "json", &mut files);
            let mut lines = vec![];
            for f in files {
                let text = std::fs::read_to_string(&f).expect("read");
                for v in serde_json::Deserializer::from_str(&text).into_iter::<Json>() {
                    let v = v.expect("json");
                    lines.push(if nested {
                        v.to_string()
                    } else {
                        flatten_evtx(&v).to_string()
                    });
                }
            }
            let mut p = if w == "bare" {
                vec![]
            } else {
                vec!["windows-logsources".to_string()]
            };
            if nested {
                p.push("windows-evtx-json".into());
            }
            (c.join("sigmahq/rules/windows"), p, lines)
        }
    };
    let coll = sigil_core::Collection::load_paths(&[rules_dir]).expect("load");
    let mut lowered = coll.lower();
    let p = sigil_pipeline::resolve(&pipelines).expect("pipelines");
    let _ = p.apply_lowered(&mut lowered);
    let t = Instant::now();
    let (set, _errors) = sigil_match::RuleSet::new(&lowered.rules);
    eprintln!("build {:?}: {:?}", t.elapsed(), set.stats());
    let t = Instant::now();
    let (matches, candidates) = run_events(&set, &lines, n, mode);
    let secs = t.elapsed().as_secs_f64();
    if std::env::var_os("SIGIL_PROFILE_TOP").is_some() {
        let rules: Vec<_> = set.rules().collect();
        let mut counts = vec![0usize; rules.len()];
        let mut scratch = sigil_match::Scratch::default();
        let mut out = vec![];
        let mut fast = sigil_match::JsonEvent::default();
        let mut hits = vec![0usize; rules.len()];
        let mut nanos = vec![0u128; rules.len()];
        for line in lines.iter().take(n) {
            fast.parse(line).expect("json");
            set.matching_into(&fast, &mut scratch, &mut out);
            for &r in scratch.last_candidate_rules() {
                counts[r as usize] += 1;
                let t = Instant::now();
                for _ in 0..20 {
                    hits[r as usize] += rules[r as usize].1.matches(&fast) as usize;
                }
                nanos[r as usize] += t.elapsed().as_nanos() / 20;
            }
        }
        let mut order: Vec<usize> = (0..rules.len()).collect();
        order.sort_by_key(|&r| std::cmp::Reverse(nanos[r]));
        let total: u128 = nanos.iter().sum();
        eprintln!("evaluation: {} ns per event", total / n as u128);
        for &r in order.iter().take(25) {
            eprintln!(
                "{:6} candidate {:6} match {:8} ns/event  {}",
                counts[r],
                hits[r] / 20,
                nanos[r] / n as u128,
                rules[r].1.meta.title
            );
        }
    }
    eprintln!(
        "{workload}/{mode}: {n} events, {matches} matches, {:.1} candidates/event, {:.0} events/s",
        candidates as f64 / n as f64,
        n as f64 / secs
    );
}

/// The measured loop (callgrind: `--toggle-collect=profile::run_events`).
#[inline(never)]
fn run_events(
    set: &sigil_match::RuleSet,
    lines: &[String],
    n: usize,
    mode: &str,
) -> (usize, usize) {
    let mut scratch = sigil_match::Scratch::default();
    let mut out = vec![];
    let mut matches = 0usize;
    let mut candidates = 0usize;
    let mut fast = sigil_match::JsonEvent::default();
    for i in 0..n {
        let line = &lines[i % lines.len()];
        match mode {
            "parse" => {
                let v: Json = serde_json::from_str(line).expect("json");
                std::hint::black_box(&v);
            }
            "parsefast" => {
                fast.parse(line).expect("json");
                std::hint::black_box(&fast);
            }
            "value" => {
                let v: Json = serde_json::from_str(line).expect("json");
                set.matching_into(&v, &mut scratch, &mut out);
                matches += out.len();
                candidates += scratch.last_candidates();
            }
            "naive" => {
                let v: Json = serde_json::from_str(line).expect("json");
                matches += set.rules().filter(|(_, r)| r.matches(&v)).count();
            }
            _ => {
                fast.parse(line).expect("json");
                set.matching_into(&fast, &mut scratch, &mut out);
                matches += out.len();
                candidates += scratch.last_candidates();
            }
        }
    }
    (matches, candidates)
}
