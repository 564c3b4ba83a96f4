//! Query post-processing and finalizers.

use serde_json::Value as J;

use crate::model::{Finalizer, TplPiece};

/// `json.dumps` as Python writes it: `", "` and `": "` separators (or newlines with
/// `indent`), non-ASCII escaped.
pub(crate) fn py_json(v: &J, indent: Option<usize>) -> String {
    let mut out = String::new();
    write_py(v, indent, 0, &mut out);
    out
}

fn write_py(v: &J, indent: Option<usize>, depth: usize, out: &mut String) {
    let nl = |out: &mut String, d: usize| {
        if let Some(n) = indent {
            out.push('\n');
            out.push_str(&" ".repeat(n * d));
        }
    };
    match v {
        J::Array(a) if a.is_empty() => out.push_str("[]"),
        J::Object(o) if o.is_empty() => out.push_str("{}"),
        J::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push_str(if indent.is_some() { "," } else { ", " });
                }
                nl(out, depth + 1);
                write_py(x, indent, depth + 1, out);
            }
            nl(out, depth);
            out.push(']');
        }
        J::Object(o) => {
            out.push('{');
            for (i, (k, x)) in o.iter().enumerate() {
                if i > 0 {
                    out.push_str(if indent.is_some() { "," } else { ", " });
                }
                nl(out, depth + 1);
                py_str(k, out);
                out.push_str(": ");
                write_py(x, indent, depth + 1, out);
            }
            nl(out, depth);
            out.push('}');
        }
        J::String(s) => py_str(s, out),
        other => out.push_str(&other.to_string()),
    }
}

fn py_str(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut buf = [0u16; 2];
                for u in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{u:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Replace `%QUERY%` inside every string of the template.
pub(crate) fn fill_json(t: &J, query: &str) -> J {
    match t {
        J::String(s) => J::String(s.replace("%QUERY%", query)),
        J::Array(a) => J::Array(a.iter().map(|x| fill_json(x, query)).collect()),
        J::Object(o) => J::Object(
            o.iter()
                .map(|(k, x)| (k.clone(), fill_json(x, query)))
                .collect(),
        ),
        other => other.clone(),
    }
}

pub(crate) fn render_template(
    pieces: &[TplPiece],
    query: &str,
    rule: &sigil_core::RuleMeta,
    pipeline: &str,
    state: &std::collections::HashMap<String, J>,
) -> String {
    let mut out = String::new();
    for p in pieces {
        match p {
            TplPiece::Lit(s) => out.push_str(s),
            TplPiece::Query => out.push_str(query),
            TplPiece::PipelineName => out.push_str(pipeline),
            TplPiece::State(k) => match state.get(k) {
                Some(J::String(s)) => out.push_str(s),
                Some(v) => out.push_str(&v.to_string()),
                None => out.push_str("None"),
            },
            TplPiece::Rule(attr) => match crate::apply::attr_text(rule, attr) {
                Some(s) => out.push_str(&s),
                None => out.push_str("None"),
            },
        }
    }
    out
}

/// The output of a finalizer chain: still a list, or already one text.
pub(crate) enum Out {
    List(Vec<String>),
    Text(String),
}

pub(crate) fn finalize(fs: &[Finalizer], mut out: Out) -> Out {
    for f in fs {
        out = match f {
            Finalizer::Concat {
                separator,
                prefix,
                suffix,
            } => match out {
                Out::List(qs) => Out::Text(format!("{prefix}{}{suffix}", qs.join(separator))),
                Out::Text(t) => Out::Text(format!("{prefix}{t}{suffix}")),
            },
            Finalizer::Json { indent } => {
                let v = match out {
                    Out::List(qs) => J::Array(qs.into_iter().map(J::String).collect()),
                    Out::Text(t) => J::String(t),
                };
                Out::Text(py_json(&v, *indent))
            }
            Finalizer::Yaml => {
                let text = match out {
                    Out::List(qs) => serde_yaml::to_string(&qs),
                    Out::Text(t) => serde_yaml::to_string(&t),
                };
                Out::Text(text.unwrap_or_default())
            }
            Finalizer::Nested(inner) => finalize(inner, out),
        };
    }
    out
}
