//! Output: rustc-style text diagnostics, JSON values and SARIF 2.1.0.

use std::fmt::Write as _;

use serde_json::{json, Value};

use crate::registry::VALIDATORS;
use crate::{Finding, Severity};

const RESET: &str = "\x1b[0m";
const BOLD: &str = "\x1b[1m";
const BLUE: &str = "\x1b[1;34m";

fn colour(s: Severity) -> &'static str {
    match s {
        Severity::Error => "\x1b[1;31m",
        Severity::Warning => "\x1b[1;33m",
        Severity::Info => "\x1b[1;36m",
    }
}

/// Length in characters of the token that starts at `col` (1-based) of `line`: a quoted
/// scalar up to its closing quote, a key up to its colon, else up to a comment or the end.
fn token_len(line: &str, col: usize) -> usize {
    let rest: String = line.chars().skip(col.saturating_sub(1)).collect();
    let mut chars = rest.chars();
    match chars.next() {
        None => 1,
        Some(q @ ('\'' | '"')) => {
            let mut n = 1;
            let mut prev = ' ';
            for c in chars {
                n += 1;
                if c == q && !(q == '"' && prev == '\\') {
                    return n;
                }
                prev = c;
            }
            n
        }
        Some(_) => {
            let mut end = rest.len();
            // Inside a flow collection (`[a, b]`, `{k: v}`) a plain scalar ends at , ] }.
            let before: String = line.chars().take(col.saturating_sub(1)).collect();
            if before.contains('[') || before.contains('{') {
                if let Some(p) = rest.find([',', ']', '}']) {
                    end = end.min(p);
                }
            }
            if let Some(p) = rest.find(" #") {
                end = end.min(p);
            }
            if let Some(p) = rest.find(": ") {
                end = end.min(p);
            }
            let t = rest[..end].trim_end();
            let t = t.strip_suffix(':').unwrap_or(t);
            let t = t.strip_suffix(',').unwrap_or(t);
            t.chars().count().max(1)
        }
    }
}

/// One finding as rustc prints a diagnostic:
///
/// ```text
/// warning[tag_case]: tag 'attack.T1087.004' is not lower case
///   --> rules/x.yml:17:5
///    |
/// 17 |   - attack.T1087.004
///    |     ^^^^^^^^^^^^^^^^
///    = help: write 'attack.t1087.004'
/// ```
pub fn text(f: &Finding, source: &str, color: bool) -> String {
    let (c, b, blue, r) = if color {
        (colour(f.severity), BOLD, BLUE, RESET)
    } else {
        ("", "", "", "")
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{c}{}[{}]{r}{b}: {}{r}",
        f.severity.name(),
        f.validator,
        f.message
    );
    let line_text = f
        .span
        .and_then(|s| source.lines().nth(s.line.saturating_sub(1) as usize));
    match (f.span, line_text) {
        (Some(s), Some(text)) => {
            let num = s.line.to_string();
            let pad = " ".repeat(num.len());
            let _ = writeln!(out, "{pad}{blue}-->{r} {}:{}:{}", f.file, s.line, s.column);
            let _ = writeln!(out, "{pad} {blue}|{r}");
            let text = text.trim_end_matches('\r');
            let _ = writeln!(out, "{blue}{num} |{r} {text}");
            let col = s.column.max(1) as usize;
            let indent: String = text
                .chars()
                .take(col - 1)
                .map(|ch| if ch == '\t' { '\t' } else { ' ' })
                .collect();
            let carets = "^".repeat(token_len(text, col));
            let _ = writeln!(out, "{pad} {blue}|{r} {indent}{c}{carets}{r}");
            if let Some(h) = &f.help {
                let _ = writeln!(out, "{pad} {blue}={r} {b}help{r}: {h}");
            }
            if f.fix.is_some() {
                let _ = writeln!(
                    out,
                    "{pad} {blue}={r} {b}note{r}: `sigil check --fix` repairs this"
                );
            }
        }
        (span, _) => {
            let loc = match span {
                Some(s) => format!("{}:{}:{}", f.file, s.line, s.column),
                None => f.file.to_string(),
            };
            let _ = writeln!(out, " {blue}-->{r} {loc}");
            if let Some(h) = &f.help {
                let _ = writeln!(out, "  {blue}={r} {b}help{r}: {h}");
            }
        }
    }
    out
}

/// A finding as a JSON object (`line`, `column`, `message` first, as `check --syntax`).
pub fn json(f: &Finding) -> Value {
    json!({
        "line": f.span.map(|s| s.line),
        "column": f.span.map(|s| s.column),
        "message": f.message,
        "severity": f.severity.name(),
        "validator": f.validator,
        "help": f.help,
        "fixable": f.fix.is_some(),
    })
}

fn sarif_level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

/// A SARIF 2.1.0 log of the findings (for code-scanning UIs).
pub fn sarif(findings: &[Finding]) -> Value {
    let rules: Vec<Value> = VALIDATORS
        .iter()
        .map(|v| {
            json!({
                "id": v.id,
                "shortDescription": {"text": v.description},
                "fullDescription": {"text": format!("{} (covers: {})", v.description, v.covers)},
                "defaultConfiguration": {"level": sarif_level(v.severity)},
            })
        })
        .collect();
    let results: Vec<Value> = findings
        .iter()
        .map(|f| {
            let mut region = json!({});
            if let Some(s) = f.span {
                region = json!({"startLine": s.line, "startColumn": s.column});
            }
            let mut msg = f.message.clone();
            if let Some(h) = &f.help {
                msg.push_str(" (help: ");
                msg.push_str(h);
                msg.push(')');
            }
            let uri = f.file.trim_start_matches("./").replace('\\', "/");
            json!({
                "ruleId": f.validator,
                "ruleIndex": VALIDATORS.iter().position(|v| v.id == f.validator),
                "level": sarif_level(f.severity),
                "message": {"text": msg},
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": {"uri": uri},
                        "region": region,
                    }
                }],
            })
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "sigil",
                "informationUri": "https://example.invalid/sigil",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "results": results,
        }],
    })
}
