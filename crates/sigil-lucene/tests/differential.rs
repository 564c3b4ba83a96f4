//! Proof on real Apache Lucene (via `sigil-engines`): for every rule in `rules/` and a
//! deterministic sample of SigmaHQ rules (every modifier the corpus uses represented),
//! witness events are evaluated by the matcher (the reference semantics) and by Lucene's
//! `QueryParser` + index running our query; the verdicts must be equal. Also, every query
//! emitted for the whole SigmaHQ `rules/` directory must parse (default and `lowercase`
//! options; regexps whose automaton exceeds Lucene's 10,000-state limit, which
//! Elasticsearch enforces too, are counted and reported, not failed).
//!
//! Modes (the index mode of the harness is the Elasticsearch mapping each option assumes):
//!
//! | options | index | reference |
//! |---|---|---|
//! | `case=regex`, `cidr=keyword` | exact keyword | the rule |
//! | `case=lowercase`, `cidr=keyword` | keyword + lowercase normalizer | the rule |
//! | `case=exact`, `cidr=keyword` | exact keyword | the rule with every string match made case-sensitive (what `exact` documents) |
//!
//! `cidr=ip` needs an Elasticsearch `ip` field, which the harness does not model; its
//! queries are covered by the parse test.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;
use sigil_core::backend::{Backend, BackendOptions};
use sigil_core::collection::find_rule_files;
use sigil_core::ir::Pred;
use sigil_core::load::load_file;
use sigil_core::modifiers::Modifier;
use sigil_core::{Collection, Expr, RuleIr};
use sigil_engines::{IndexMode, LuceneEngine};
use sigil_lucene::LuceneBackend;
use sigil_witness::{witnesses, WitnessOptions};

const SAMPLE_EVERY: u64 = 6;

fn root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

fn sigmahq_rules() -> PathBuf {
    let p = root().join("../shared/corpus/sigmahq/rules");
    assert!(
        p.is_dir(),
        "SigmaHQ corpus missing: expected {} (the shared corpus next to the checkout)",
        p.display()
    );
    p
}

fn fnv(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Every `k`-th file by a hash of its path relative to `rules/`, plus, for each modifier
/// the corpus uses but the sample lacks, the first file (by path) that uses it.
fn sample_files() -> (Vec<PathBuf>, BTreeSet<&'static str>, BTreeSet<&'static str>) {
    let base = sigmahq_rules();
    let files = find_rule_files(std::slice::from_ref(&base)).expect("listing SigmaHQ rules");
    let rel = |p: &Path| {
        p.strip_prefix(&base)
            .unwrap_or(p)
            .to_string_lossy()
            .to_string()
    };
    let texts: Vec<String> = files
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap_or_default())
        .collect();
    let uses = |text: &str, m: Modifier| {
        let re = regex::Regex::new(&format!(r"\|{}\s*[:|]", regex::escape(m.name()))).unwrap();
        re.is_match(text)
    };
    let mut chosen: Vec<usize> = (0..files.len())
        .filter(|&i| fnv(&rel(&files[i])).is_multiple_of(SAMPLE_EVERY))
        .collect();
    let mut covered = BTreeSet::new();
    let mut absent = BTreeSet::new();
    for m in Modifier::ALL {
        if chosen.iter().any(|&i| uses(&texts[i], m)) {
            covered.insert(m.name());
            continue;
        }
        match (0..files.len()).find(|&i| uses(&texts[i], m)) {
            Some(i) => {
                chosen.push(i);
                covered.insert(m.name());
            }
            None => {
                absent.insert(m.name());
            }
        }
    }
    chosen.sort();
    chosen.dedup();
    (
        chosen.into_iter().map(|i| files[i].clone()).collect(),
        covered,
        absent,
    )
}

fn lower(paths: &[PathBuf]) -> Vec<RuleIr> {
    let files = find_rule_files(paths).expect("listing rule files");
    let coll = Collection::from_files(files.iter().map(|p| load_file(p)).collect());
    let lowered = coll.lower();
    lowered
        .rules
        .into_iter()
        .zip(lowered.emit)
        .filter(|(_, e)| *e)
        .map(|(r, _)| r)
        .collect()
}

fn backend(opts: &[(&str, &str)]) -> LuceneBackend {
    LuceneBackend::new(&BackendOptions {
        table: None,
        options: opts
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    })
    .expect("options")
}

/// The rule as `case=exact` documents it: every string match case-sensitive.
fn all_cased(e: &Expr) -> Expr {
    e.clone().map_preds(&mut |p| {
        Expr::Pred(match p {
            Pred::Str { field, pattern, .. } => Pred::Str {
                field,
                pattern,
                cased: true,
            },
            Pred::Keyword { pattern, .. } => Pred::Keyword {
                pattern,
                cased: true,
            },
            other => other,
        })
    })
}

/// Short category of an unsupported-conversion message.
fn category(msg: &str) -> String {
    for key in [
        "fieldref",
        "timestamp part",
        "case-sensitive match",
        "case-sensitive regular expression",
        "word boundary",
        "multi-line anchor",
        "anchor",
        "IPv6",
        "line break",
        "placeholder",
        "matches nothing",
    ] {
        if msg.contains(key) {
            return key.to_string();
        }
    }
    msg.chars().take(60).collect()
}

struct Case {
    title: String,
    path: String,
    query: String,
    reference: sigil_match::CompiledExpr,
    events: Vec<Value>,
}

/// Runs one mode; returns (queries checked, events checked, disagreements, unsupported).
fn run_mode(
    engine: &mut LuceneEngine,
    rules: &[RuleIr],
    opts: &[(&str, &str)],
    mode: IndexMode,
    cased_reference: bool,
) -> (usize, usize, Vec<String>, BTreeMap<String, usize>) {
    let b = backend(opts);
    let mut unsupported = BTreeMap::new();
    let mut cases = Vec::new();
    let mut failures = Vec::new();
    for r in rules {
        let queries = match b.convert_rule(r) {
            Ok(q) => q,
            Err(e) => {
                if e.unsupported {
                    *unsupported.entry(category(&e.message)).or_insert(0) += 1;
                } else {
                    failures.push(format!("{}: conversion error: {e}", r.meta.source.path));
                }
                continue;
            }
        };
        for (cond, query) in r.conditions.iter().zip(queries) {
            let reference = if cased_reference {
                all_cased(cond)
            } else {
                cond.clone()
            };
            let Ok(reference) = sigil_match::compile_expr(&reference) else {
                continue;
            };
            let events = witnesses(cond, &WitnessOptions::default());
            cases.push(Case {
                title: r.meta.title.clone(),
                path: r.meta.source.path.to_string(),
                query,
                reference,
                events,
            });
        }
    }
    let mut n_events = 0;
    let mut too_complex = Vec::new();
    // Batches of rules share one index: every query also meets the other rules' events.
    for chunk in cases.chunks(40) {
        let events: Vec<Value> = chunk.iter().flat_map(|c| c.events.clone()).collect();
        n_events += events.len();
        let queries: Vec<&str> = chunk.iter().map(|c| c.query.as_str()).collect();
        let got = engine
            .run_detailed(&events, &queries, mode)
            .expect("Lucene batch");
        for (c, hit) in chunk.iter().zip(got) {
            let hit = match hit {
                Ok(h) => h,
                Err(e) if e.contains("TooComplexToDeterminize") => {
                    // Over Lucene's (and Elasticsearch's) 10,000-state regexp limit:
                    // reported, not a disagreement.
                    too_complex.push(c.path.clone());
                    continue;
                }
                Err(e) => {
                    failures.push(format!(
                        "{} ({}): Lucene rejected the query: {e}\n  query: {}",
                        c.title, c.path, c.query
                    ));
                    continue;
                }
            };
            let lucene: BTreeSet<usize> = hit.matches.iter().copied().collect();
            for (i, ev) in events.iter().enumerate() {
                let want = c.reference.matches(ev);
                if want != lucene.contains(&i) {
                    failures.push(format!(
                        "{} ({}): matcher says {want}, Lucene says {}\n  query: {}\n  parsed: {}\n  event: {ev}",
                        c.title,
                        c.path,
                        !want,
                        c.query,
                        hit.parsed
                    ));
                    break;
                }
            }
        }
    }
    if !too_complex.is_empty() {
        *unsupported
            .entry("over the 10,000-state regexp limit (at run time)".into())
            .or_insert(0) += too_complex.len();
    }
    (cases.len(), n_events, failures, unsupported)
}

#[test]
fn lucene_agrees_with_matcher_on_witnesses() {
    let (files, covered, absent) = sample_files();
    // Modifiers the corpus never uses come from our own fixture.
    let fixture = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/modifiers"));
    let fixture_text = std::fs::read_to_string(fixture.join("modifiers.yml")).expect("fixture");
    let mut covered = covered;
    let mut absent = absent;
    for m in absent.clone() {
        if fixture_text.contains(&format!("|{m}:")) || fixture_text.contains(&format!("|{m}|")) {
            covered.insert(m);
            absent.remove(m);
        }
    }
    let mut rules = lower(&[root().join("rules"), fixture]);
    let n_own = rules.len();
    rules.extend(lower(&files));
    assert!(
        rules.len() - n_own >= 500,
        "only {} SigmaHQ rules sampled",
        rules.len() - n_own
    );
    let Some(result) = LuceneEngine::with_shared(|engine| {
        let mut report = Vec::new();
        let mut all_failures = Vec::new();
        for (name, opts, mode, cased) in [
            ("case=regex", &[("case", "regex"), ("cidr", "keyword")][..], IndexMode::Exact, false),
            ("case=lowercase", &[("case", "lowercase"), ("cidr", "keyword")][..], IndexMode::Lowercase, false),
            ("case=exact", &[("case", "exact"), ("cidr", "keyword")][..], IndexMode::Exact, true),
        ] {
            let (n, ev, failures, unsupported) = run_mode(engine, &rules, opts, mode, cased);
            report.push(format!(
                "{name}: {n} queries checked over {ev} events (batched), {} disagreements; unsupported: {unsupported:?}",
                failures.len()
            ));
            all_failures.extend(failures.into_iter().map(|f| format!("[{name}] {f}")));
        }
        (report, all_failures)
    })
    .expect("Lucene engine") else {
        return; // skipped loudly by sigil-engines
    };
    let (report, failures) = result;
    eprintln!(
        "differential: {} rules ({} own (rules/ and tests/modifiers) + {} SigmaHQ sampled); modifiers covered: {covered:?}; not covered: {absent:?}",
        rules.len(),
        n_own,
        rules.len() - n_own
    );
    for line in &report {
        eprintln!("  {line}");
    }
    assert!(
        failures.is_empty(),
        "{} disagreements; first ones:\n{}",
        failures.len(),
        failures
            .iter()
            .take(25)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn every_sigmahq_query_parses() {
    let rules = lower(&[sigmahq_rules()]);
    assert!(rules.len() > 1000, "only {} SigmaHQ rules", rules.len());
    let Some(result) = LuceneEngine::with_shared(|engine| {
        let mut report = Vec::new();
        let mut errors = Vec::new();
        for (name, opts, mode) in [
            ("default (case=exact, cidr=ip)", &[][..], IndexMode::Exact),
            ("case=lowercase", &[("case", "lowercase")][..], IndexMode::Lowercase),
        ] {
            let b = backend(opts);
            let mut queries = Vec::new();
            let mut unsupported: BTreeMap<String, usize> = BTreeMap::new();
            let mut converted = 0;
            for r in &rules {
                match b.convert_rule(r) {
                    Ok(q) => {
                        converted += 1;
                        queries.extend(q.into_iter().map(|q| (r.meta.source.path.to_string(), q)));
                    }
                    Err(e) if e.unsupported => {
                        *unsupported.entry(category(&e.message)).or_insert(0) += 1
                    }
                    Err(e) => errors.push(format!("[{name}] conversion error: {e}")),
                }
            }
            let texts: Vec<&str> = queries.iter().map(|(_, q)| q.as_str()).collect();
            let started = std::time::Instant::now();
            for q in &texts {
                assert!(!q.contains(['\n', '\r']), "line break in {q:?}");
            }
            let got = engine
                .run(&[serde_json::json!({"x": "y"})], &texts, mode)
                .expect("Lucene batch");
            let mut parse_errors = 0;
            let mut too_complex = Vec::new();
            for ((path, q), r) in queries.iter().zip(got) {
                match r {
                    // Lucene's (and Elasticsearch's) limit of 10,000 automaton states for a
                    // regexp: the syntax was accepted, the automaton is too big.
                    Err(e) if e.contains("TooComplexToDeterminize") => too_complex.push(path.clone()),
                    Err(e) => {
                        parse_errors += 1;
                        eprintln!("[{name}] {path}: {e}\n  query: {q}");
                        errors.push(format!("[{name}] {path}: {e}\n  query: {q}"));
                    }
                    Ok(_) => {}
                }
            }
            report.push(format!(
                "{name}: {} rules, {converted} converted ({} queries), {parse_errors} parse errors, {} regexps over Lucene's 10,000-state automaton limit {too_complex:?}; unsupported: {unsupported:?} (Lucene: {:.1?})",
                rules.len(),
                queries.len(),
                too_complex.len(),
                started.elapsed()
            ));
            eprintln!("{}", report.last().map(String::as_str).unwrap_or(""));
        }
        (report, errors)
    })
    .expect("Lucene engine") else {
        return;
    };
    let (report, errors) = result;
    for line in &report {
        eprintln!("{line}");
    }
    assert!(
        errors.is_empty(),
        "{} errors; first ones:\n{}",
        errors.len(),
        errors
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
