//! Matcher throughput, one thread, JSON parsing included, against the Rust peers on
//! crates.io (`rsigma-eval`, `sigma-rust`) on the same events and rules.
//!
//! Workloads:
//! * `windows`: every SigmaHQ `rules/windows` rule in one set, over the SigmaHQ regression
//!   events (evtx_dump JSON), cycled to `SIGIL_BENCH_EVENTS` (default 200,000) events.
//!   All engines read the same *flattened* JSON lines (System and EventData fields at the
//!   top level, the layout the rules name); sigil also runs on the nested originals with
//!   the `windows-evtx-json` pipeline. sigil and rsigma apply the `windows-logsources`
//!   pipeline (Channel/EventID conditions per log source); sigma-rust has no pipelines
//!   and evaluates the bare detections. rsigma rejects about half the rules under the
//!   pipeline, so both sigil and rsigma also run without it (the like-for-like pair).
//! * `cloudtrail`: every SigmaHQ CloudTrail rule over the 2,900 invictus CloudTrail
//!   records, cycled likewise.
//!
//! sigil parses each line into its flat [`sigil_match::JsonEvent`] (the parse is timed);
//! the peers parse into `serde_json::Value` (their input type).
//!
//! `SIGIL_BENCH_TABLE=1` prints a table of events/s (what `scripts/bench-match.sh` runs);
//! otherwise criterion measures one pass over the base events per engine.

use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};

mod workloads;
use serde_json::Value as Json;
use workloads::{cloudtrail, walk, windows, Workload};

trait Runner {
    fn name(&self) -> String;
    fn rules(&self) -> usize;
    /// Parse one JSON line and count the matching rules.
    fn eval(&mut self, line: &str) -> usize;
}

struct Sigil {
    label: &'static str,
    set: sigil_match::RuleSet,
    scratch: sigil_match::Scratch,
    out: Vec<usize>,
    /// Reused across events: parsing into it allocates nothing once its buffers grew.
    ev: sigil_match::JsonEvent,
}

impl Sigil {
    fn new(label: &'static str, dir: &Path, pipelines: &[String]) -> Sigil {
        let (set, errors) = sigil_match::RuleSet::new(&workloads::lowered_rules(dir, pipelines));
        if !errors.is_empty() {
            eprintln!("sigil: {} rules failed to compile", errors.len());
        }
        eprintln!("{label}: {:?}", set.stats());
        Sigil {
            label,
            set,
            scratch: Default::default(),
            out: vec![],
            ev: Default::default(),
        }
    }
}

impl Runner for Sigil {
    fn name(&self) -> String {
        self.label.to_string()
    }
    fn rules(&self) -> usize {
        self.set.len()
    }
    fn eval(&mut self, line: &str) -> usize {
        if self.ev.parse(line).is_err() {
            return 0;
        }
        self.set
            .matching_into(&self.ev, &mut self.scratch, &mut self.out);
        self.out.len()
    }
}

struct Rsigma {
    label: &'static str,
    engine: rsigma_eval::Engine,
}

impl Rsigma {
    fn new(label: &'static str, dir: &Path, pipelines: &[String]) -> Rsigma {
        let coll = rsigma_parser::parse_sigma_directory(dir).expect("rsigma: parse rules");
        let mut engine = rsigma_eval::Engine::new();
        for name in pipelines {
            let path = Path::new(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../sigil-pipeline/src/builtin"
            ))
            .join(format!("{name}.yml"));
            let yaml = std::fs::read_to_string(&path).expect("pipeline yaml");
            match rsigma_eval::pipeline::parse_pipeline(&yaml) {
                Ok(p) => engine.add_pipeline(p),
                Err(e) => eprintln!("rsigma: pipeline {name} not accepted: {e}"),
            }
        }
        let errors = engine.add_rules(&coll.rules);
        if let Some((_, e)) = errors.first() {
            eprintln!("rsigma: {} rules failed to compile, e.g. {e}", errors.len());
        }
        Rsigma { label, engine }
    }
}

impl Runner for Rsigma {
    fn name(&self) -> String {
        self.label.into()
    }
    fn rules(&self) -> usize {
        self.engine.rule_count()
    }
    fn eval(&mut self, line: &str) -> usize {
        let Ok(v) = serde_json::from_str::<Json>(line) else {
            return 0;
        };
        self.engine
            .evaluate(&rsigma_eval::JsonEvent::borrow(&v))
            .len()
    }
}

struct SigmaRust {
    rules: Vec<sigma_rust::Rule>,
}

impl SigmaRust {
    fn new(dir: &Path) -> SigmaRust {
        let mut files = vec![];
        walk(
            dir,
            &|n| n.ends_with(".yml") || n.ends_with(".yaml"),
            &mut files,
        );
        let mut rules = vec![];
        let mut failed = 0;
        for f in files {
            match sigma_rust::rule_from_yaml(&std::fs::read_to_string(&f).expect("read")) {
                Ok(r) => rules.push(r),
                Err(_) => failed += 1,
            }
        }
        if failed > 0 {
            eprintln!("sigma-rust: {failed} rule files failed to parse");
        }
        SigmaRust { rules }
    }
}

impl Runner for SigmaRust {
    fn name(&self) -> String {
        "sigma-rust 0.7.0".into()
    }
    fn rules(&self) -> usize {
        self.rules.len()
    }
    fn eval(&mut self, line: &str) -> usize {
        let Ok(ev) = sigma_rust::event_from_json(line) else {
            return 0;
        };
        self.rules.iter().filter(|r| r.is_match(&ev)).count()
    }
}

/// JSON parsing alone, for reference.
struct ParseOnly;

impl Runner for ParseOnly {
    fn name(&self) -> String {
        "serde_json parse only".into()
    }
    fn rules(&self) -> usize {
        0
    }
    fn eval(&mut self, line: &str) -> usize {
        serde_json::from_str::<Json>(line).map(|_| 0).unwrap_or(0)
    }
}

/// sigil's event parsing alone (`JsonEvent`), for reference.
struct SigilParseOnly(sigil_match::JsonEvent);

impl Runner for SigilParseOnly {
    fn name(&self) -> String {
        "sigil JsonEvent parse only".into()
    }
    fn rules(&self) -> usize {
        0
    }
    fn eval(&mut self, line: &str) -> usize {
        self.0.parse(line).map(|_| 0).unwrap_or(0)
    }
}

fn runners(w: &Workload) -> Vec<(Box<dyn Runner>, bool)> {
    let mut v: Vec<(Box<dyn Runner>, bool)> = vec![
        (Box::new(ParseOnly), false),
        (Box::new(SigilParseOnly(Default::default())), false),
        (
            Box::new(Sigil::new("sigil", &w.rules_dir, &w.pipelines)),
            false,
        ),
    ];
    if !w.pipelines.is_empty() {
        // The like-for-like row for rsigma's no-pipeline run: the same bare detections.
        v.push((
            Box::new(Sigil::new("sigil (no pipeline)", &w.rules_dir, &[])),
            false,
        ));
    }
    if w.nested.is_some() {
        v.push((
            Box::new(Sigil::new(
                "sigil (nested + evtx pipeline)",
                &w.rules_dir,
                &w.nested_pipelines,
            )),
            true,
        ));
    }
    v.push((
        Box::new(Rsigma::new(
            "rsigma-eval 0.23.0",
            &w.rules_dir,
            &w.pipelines,
        )),
        false,
    ));
    if !w.pipelines.is_empty() {
        // rsigma rejects about half the rules once the windows-logsources conditions are
        // added; without the pipeline it loads them all (bare detections, like sigma-rust).
        v.push((
            Box::new(Rsigma::new(
                "rsigma-eval 0.23.0 (no pipeline)",
                &w.rules_dir,
                &[],
            )),
            false,
        ));
    }
    v.push((Box::new(SigmaRust::new(&w.rules_dir)), false));
    // SIGIL_BENCH_ONLY=substring: run only the engines whose name contains it (profiling).
    if let Ok(only) = std::env::var("SIGIL_BENCH_ONLY") {
        v.retain(|(r, _)| r.name().contains(&only));
    }
    v
}

/// Events per second of `r` over `lines`, cycled to `target` events or stopped after `cap`.
fn measure(r: &mut dyn Runner, lines: &[String], target: usize, cap: Duration) -> (usize, f64) {
    let start = Instant::now();
    let mut n = 0usize;
    let mut sink = 0usize;
    'outer: loop {
        for l in lines {
            sink = sink.wrapping_add(r.eval(l));
            n += 1;
            if n >= target || (n.is_multiple_of(1024) && start.elapsed() > cap) {
                break 'outer;
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    std::hint::black_box(sink);
    (n, n as f64 / secs)
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// One engine on one workload: its input, match count, events timed in the last round and
/// the rate of each round.
struct Run<'w> {
    runner: Box<dyn Runner>,
    lines: &'w [String],
    matches: usize,
    timed: usize,
    rates: Vec<f64>,
}

fn table() {
    let env = |name: &str, default: u64| -> u64 {
        std::env::var(name)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(default)
    };
    let target = env("SIGIL_BENCH_EVENTS", 200_000) as usize;
    let cap = Duration::from_secs(env("SIGIL_BENCH_MAX_SECS", 60));
    // Every engine is measured once per round, the rounds one after the other, so a slow
    // spell of the machine hits all engines alike; the table gives per-engine medians and
    // the like-for-like ratio is also taken round by round. An engine stopped by the time
    // cap in the first round is not run again.
    let rounds = env("SIGIL_BENCH_ROUNDS", 3).max(1) as usize;
    println!("| workload | engine | rules | base events | matches per pass | events timed | events/s (median of {rounds}) | sigil ÷ engine |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|");
    let mut notes = vec![];
    for w in [windows(), cloudtrail()] {
        let mut runs: Vec<Run> = vec![];
        for (mut r, nested) in runners(&w) {
            let lines: &[String] = if nested {
                w.nested.as_ref().unwrap_or(&w.lines)
            } else {
                &w.lines
            };
            // One pass: warm-up and match count.
            let matches: usize = lines.iter().map(|l| r.eval(l)).sum();
            runs.push(Run {
                runner: r,
                lines,
                matches,
                timed: 0,
                rates: vec![],
            });
        }
        for round in 0..rounds {
            for run in runs.iter_mut() {
                if round > 0 && run.timed < target {
                    continue;
                }
                let (n, eps) = measure(run.runner.as_mut(), run.lines, target, cap);
                run.timed = n;
                run.rates.push(eps);
            }
        }
        let rates_of = |name: &str| {
            runs.iter()
                .find(|r| r.runner.name() == name)
                .map(|r| r.rates.clone())
                .unwrap_or_default()
        };
        let sigil_eps = median(&rates_of("sigil"));
        for run in &runs {
            let eps = median(&run.rates);
            println!(
                "| {} | {} | {} | {} | {} | {} | {eps:.0} | {:.1}x |",
                w.name,
                run.runner.name(),
                run.runner.rules(),
                run.lines.len(),
                run.matches,
                run.timed,
                sigil_eps / eps
            );
        }
        let (ours, theirs) = (
            rates_of("sigil (no pipeline)"),
            rates_of("rsigma-eval 0.23.0 (no pipeline)"),
        );
        if !ours.is_empty() && ours.len() == theirs.len() {
            let ratios: Vec<f64> = ours.iter().zip(&theirs).map(|(a, b)| a / b).collect();
            let each: Vec<String> = ratios.iter().map(|x| format!("{x:.1}x")).collect();
            notes.push(format!(
                "{}: like-for-like sigil (no pipeline) ÷ rsigma (no pipeline), round by round: {} (median {:.1}x)",
                w.name,
                each.join(", "),
                median(&ratios)
            ));
        }
    }
    for n in notes {
        println!("\n{n}");
    }
}

fn criterion_benches() {
    let mut c = Criterion::default()
        .sample_size(10)
        .measurement_time(Duration::from_secs(5))
        .configure_from_args();
    for w in [windows(), cloudtrail()] {
        let mut g = c.benchmark_group(w.name);
        g.throughput(Throughput::Elements(w.lines.len() as u64));
        for (mut r, nested) in runners(&w) {
            let lines = if nested {
                w.nested.clone().unwrap_or_default()
            } else {
                w.lines.clone()
            };
            g.bench_function(r.name(), |b| {
                b.iter(|| lines.iter().map(|l| r.eval(l)).sum::<usize>())
            });
        }
        g.finish();
    }
    c.final_summary();
}

fn main() {
    if std::env::var_os("SIGIL_BENCH_TABLE").is_some() {
        table();
    } else {
        criterion_benches();
    }
}
