//! `sigil match`: evaluate rules (and correlation rules) against events in process.
//!
//! Events are read from files or standard input (`-`), in one of three layouts, chosen by
//! the start of each input:
//!
//! * a JSON array (`[...]`, possibly several arrays one after another): each element is an
//!   event;
//! * JSON lines: one event per line (empty lines skipped); a line that is not valid JSON is
//!   reported with its line number and skipped;
//! * concatenated JSON documents (e.g. pretty-printed `evtx_dump` output): when the first
//!   line is not a complete JSON value. A syntax error is reported with its line number and
//!   reading resumes at the next line.
//!
//! Each match prints one JSON line on standard output:
//! `{"event": N, "rule": ID, "title": ..., "level": ...}` where `N` counts events from 1
//! across all inputs; a fired correlation adds `"correlation": true` and its `"group"`.

use std::io::{BufRead, BufReader, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use serde_json::Value as Json;
use sigil_core::collection::{find_rule_files, Collection};
use sigil_match::{Detection, DetectionKind, Engine, EngineOptions, Event, JsonEvent};

#[derive(Args, Debug)]
pub struct MatchArgs {
    /// Rule files or directories. The list ends at the next option, or at the first path
    /// that is neither a directory nor a `.yml`/`.yaml` file (`-` included): those paths
    /// are events.
    #[arg(long = "rules", short = 'r', required = true, num_args = 1..)]
    pub rules: Vec<PathBuf>,
    /// Processing pipeline, by built-in name or YAML file (repeatable), e.g.
    /// `-p windows-logsources -p windows-evtx-json` for evtx_dump JSON events.
    #[arg(short = 'p', long = "pipeline")]
    pub pipelines: Vec<String>,
    /// Event field holding the event time, for correlation windows (repeatable; tried in
    /// order). Default: @timestamp, timestamp, eventTime,
    /// Event.System.TimeCreated.#attributes.SystemTime, UtcTime.
    #[arg(long = "timestamp-field")]
    pub timestamp_fields: Vec<String>,
    /// Event files (JSON lines, JSON arrays or concatenated JSON); `-` reads standard input.
    pub events: Vec<PathBuf>,
}

fn is_rule_path(p: &Path) -> bool {
    p.is_dir()
        || matches!(
            p.extension().and_then(|e| e.to_str()),
            Some("yml") | Some("yaml")
        )
        // A missing directory: let the rule loader report it.
        || (p.as_os_str() != "-" && !p.exists() && p.extension().is_none())
}

pub fn run(mut args: MatchArgs) -> anyhow::Result<ExitCode> {
    // `--rules a/ b.yml events.jsonl`: the greedy list took the events too.
    if let Some(split) = args.rules.iter().position(|p| !is_rule_path(p)) {
        if split == 0 {
            anyhow::bail!(
                "'{}' is not a rule file or directory (rules are .yml/.yaml files or directories)",
                args.rules[0].display()
            );
        }
        let mut tail = args.rules.split_off(split);
        tail.append(&mut args.events);
        args.events = tail;
    }
    if args.events.is_empty() {
        anyhow::bail!("no event input given (use '-' to read standard input)");
    }
    let pipeline = sigil_pipeline::resolve(&args.pipelines).map_err(|e| anyhow::anyhow!("{e}"))?;

    let files = find_rule_files(&args.rules)?;
    let collection = Collection::from_files(
        files
            .iter()
            .map(|p| sigil_core::load::load_file(p))
            .collect(),
    );
    let mut lowered = collection.lower();
    let mut problems = 0usize;
    for e in collection.load_errors() {
        eprintln!("{e}");
        problems += 1;
    }
    for e in &lowered.errors {
        eprintln!("{e}");
        problems += 1;
    }
    for e in pipeline.apply_lowered(&mut lowered) {
        eprintln!("{e}");
        problems += 1;
    }
    let mut opts = EngineOptions::default();
    if !args.timestamp_fields.is_empty() {
        opts.timestamp_fields = args.timestamp_fields.clone();
    }
    let (mut engine, errors) = Engine::new(&lowered, opts);
    for e in &errors {
        eprintln!("error: {e}");
        problems += 1;
    }
    if engine.rule_set().is_empty() && lowered.correlations.is_empty() {
        eprintln!("no usable rules");
        return Ok(ExitCode::from(if problems > 0 { 1 } else { 2 }));
    }

    let total_bytes: u64 = args
        .events
        .iter()
        .filter(|p| p.as_os_str() != "-")
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    let progress = if std::io::stderr().is_terminal() {
        let pb = if args.events.iter().any(|p| p.as_os_str() == "-") {
            indicatif::ProgressBar::new_spinner()
        } else {
            indicatif::ProgressBar::new(total_bytes)
        };
        pb.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} {bytes}/{total_bytes} {wide_bar} {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        pb
    } else {
        indicatif::ProgressBar::hidden()
    };

    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut state = RunState {
        n: 0,
        matches: 0,
        bad_events: 0,
    };
    for path in &args.events {
        let name = if path.as_os_str() == "-" {
            "<stdin>".to_string()
        } else {
            path.display().to_string()
        };
        let reader: Box<dyn Read> = if path.as_os_str() == "-" {
            Box::new(std::io::stdin().lock())
        } else {
            Box::new(std::fs::File::open(path).with_context(|| format!("{name}: cannot open"))?)
        };
        let reader = progress.wrap_read(reader);
        let mut emit = |ev: &dyn Event, state: &mut RunState| -> std::io::Result<()> {
            state.n += 1;
            for d in engine.process_dyn(ev) {
                state.matches += 1;
                write_detection(&mut out, state.n, &d)?;
            }
            Ok(())
        };
        match read_events(BufReader::new(reader), &name, &mut state, &mut emit) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(ExitCode::SUCCESS),
            Err(e) => return Err(anyhow::anyhow!("{name}: {e}")),
        }
        progress.set_message(format!("{} events, {} matches", state.n, state.matches));
    }
    progress.finish_and_clear();
    match out.flush() {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(ExitCode::SUCCESS),
        r => r?,
    }
    eprintln!(
        "{} events, {} matches, {} rules, {} correlations, {} bad events, {} rule errors",
        state.n,
        state.matches,
        engine.rule_set().len(),
        lowered.correlations.len(),
        state.bad_events,
        problems
    );
    Ok(if problems > 0 || state.bad_events > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

struct RunState {
    n: u64,
    matches: u64,
    bad_events: u64,
}

fn write_detection(out: &mut impl Write, n: u64, d: &Detection) -> std::io::Result<()> {
    let mut obj = serde_json::json!({
        "event": n,
        "rule": d.meta.display_id(),
        "title": d.meta.title,
        "level": d.meta.level.map(|l| l.name()),
    });
    if d.kind == DetectionKind::Correlation {
        obj["correlation"] = Json::Bool(true);
        obj["group"] = Json::Object(
            d.group
                .iter()
                .map(|(k, v)| (k.clone(), v.clone().map(Json::String).unwrap_or(Json::Null)))
                .collect(),
        );
    }
    serde_json::to_writer(&mut *out, &obj)?;
    out.write_all(b"\n")
}

fn report_bad(name: &str, line: usize, e: &serde_json::Error, state: &mut RunState) {
    eprintln!("{name}:{line}: error: invalid JSON event, skipped: {e}");
    state.bad_events += 1;
}

/// Read every event of one input and hand it to `emit`.
fn read_events(
    mut reader: impl BufRead,
    name: &str,
    state: &mut RunState,
    emit: &mut dyn FnMut(&dyn Event, &mut RunState) -> std::io::Result<()>,
) -> std::io::Result<()> {
    // JSON lines are parsed into one reused flat event (no allocation per event once its
    // buffers grew); arrays and concatenated documents stay `serde_json::Value`s (same
    // semantics, see `sigil_match::JsonEvent`).
    // Look at the first non-empty line to pick the layout.
    let mut first = String::new();
    let mut line_no = 0usize;
    loop {
        first.clear();
        if reader.read_line(&mut first)? == 0 {
            return Ok(()); // empty input
        }
        line_no += 1;
        if !first.trim().is_empty() {
            break;
        }
    }
    let start_line = line_no;
    let trimmed = first.trim_start();
    if !trimmed.starts_with('[') {
        let mut ev = JsonEvent::default();
        if ev.parse(first.trim()).is_ok() {
            // JSON lines.
            emit(&ev, state)?;
            let mut line = String::new();
            loop {
                line.clear();
                if reader.read_line(&mut line)? == 0 {
                    return Ok(());
                }
                line_no += 1;
                let t = line.trim();
                if t.is_empty() {
                    continue;
                }
                match ev.parse(t) {
                    Ok(()) => emit(&ev, state)?,
                    Err(e) => report_bad(name, line_no, &e, state),
                }
            }
        }
    }
    // Arrays or concatenated documents: read the rest and stream values, resuming at the
    // next line after a syntax error.
    let mut text = first;
    reader.read_to_string(&mut text)?;
    let line_starts: Vec<usize> = std::iter::once(0)
        .chain(text.match_indices('\n').map(|(i, _)| i + 1))
        .collect();
    let line_of = |offset: usize| match line_starts.binary_search(&offset) {
        Ok(i) => i,
        Err(i) => i - 1,
    };
    let mut pos = 0usize;
    while pos < text.len() {
        let mut stream = serde_json::Deserializer::from_str(&text[pos..]).into_iter::<Json>();
        match stream.next() {
            None => break,
            Some(Ok(v)) => {
                pos += stream.byte_offset();
                match v {
                    Json::Array(items) => {
                        for ev in items {
                            emit(&ev, state)?;
                        }
                    }
                    ev => emit(&ev, state)?,
                }
            }
            Some(Err(e)) => {
                // `e.line()` counts from 1 within `text[pos..]`.
                let err_line = line_of(pos) + e.line().saturating_sub(1);
                report_bad(name, start_line + err_line, &e, state);
                // Resume at the start of the next line after the error.
                match line_starts.get(err_line + 1) {
                    Some(next) if *next > pos => pos = *next,
                    _ => break,
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (field `a` of each event read, bad lines reported) for an input.
    fn read(input: &str) -> (Vec<Option<String>>, u64) {
        let mut state = RunState {
            n: 0,
            matches: 0,
            bad_events: 0,
        };
        let mut got = vec![];
        read_events(input.as_bytes(), "t", &mut state, &mut |ev, _| {
            got.push(sigil_match::event::first_text(ev, "a"));
            Ok(())
        })
        .expect("read");
        (got, state.bad_events)
    }

    #[test]
    fn json_lines_with_a_bad_line() {
        let (evs, bad) = read("\n{\"a\":1}\n{\"a\":\n\n{\"a\":3}\n");
        assert_eq!(evs, vec![Some("1".to_string()), Some("3".to_string())]);
        assert_eq!(bad, 1);
    }

    #[test]
    fn arrays_and_concatenated_documents() {
        let (evs, bad) = read("[{\"a\":1},\n {\"a\":2}]\n[{\"a\":3}]");
        assert_eq!(evs.len(), 3);
        assert_eq!(bad, 0);
        let (evs, bad) = read("{\n  \"a\": 1\n}\n{\n  \"a\": 2\n}\n");
        assert_eq!(evs.len(), 2);
        assert_eq!(bad, 0);
        // A broken first document: reported, the next one still read.
        let (evs, bad) = read("{\n  \"a\": ]\n}\n{\"a\": 2}\n");
        assert_eq!(evs, vec![Some("2".to_string())]);
        assert!(bad >= 1);
        let (evs, bad) = read("");
        assert!(evs.is_empty() && bad == 0);
    }
}
