//! Profiling driver (for `valgrind --tool=callgrind` and quick timing): the windows or
//! cloudtrail workload of `benches/match.rs`, one thread, JSON parsing included.
//!
//! `cargo run --release -p sigil-match --example profile -- WORKLOAD EVENTS [MODE]`
//! WORKLOAD: `windows` (flat events), `bare` (flat events, no log-source pipeline, the
//! rules as rsigma's no-pipeline row sees them), `nested` (evtx_dump layout + evtx pipeline),
//! `cloudtrail`. MODE: `value` (serde_json::Value events), `fast` (the default: the
//! crate's fast event type), `parse` (parsing only), `naive` (every rule, no RuleSet).

use std::path::PathBuf;
use std::time::Instant;

use serde_json::Value as Json;

#[path = "../benches/workloads/mod.rs"]
mod workloads;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let workload = args.get(1).map(String::as_str).unwrap_or("windows");
    let n: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(2000);
    let mode = args.get(3).map(String::as_str).unwrap_or("fast");
    let (rules_dir, pipelines, lines): (PathBuf, Vec<String>, Vec<String>) = match workload {
        "cloudtrail" => {
            let w = workloads::cloudtrail();
            (w.rules_dir, w.pipelines, w.lines)
        }
        "nested" => {
            let w = workloads::windows();
            let nested = w.nested.unwrap_or(w.lines);
            (w.rules_dir, w.nested_pipelines, nested)
        }
        "bare" => {
            let w = workloads::windows();
            (w.rules_dir, vec![], w.lines)
        }
        _ => {
            let w = workloads::windows();
            (w.rules_dir, w.pipelines, w.lines)
        }
    };
    let rules = workloads::lowered_rules(&rules_dir, &pipelines);
    let t = Instant::now();
    let (set, _errors) = sigil_match::RuleSet::new(&rules);
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
        // Per distinct event line (the loop above visits each line once).
        let n = lines.len().min(n);
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
        "{workload}/{mode}: {n} events, {matches} matches, {candidates} candidates ({:.1}/event), {:.0} events/s",
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
