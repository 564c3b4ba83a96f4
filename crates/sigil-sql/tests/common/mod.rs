//! Shared test support: candidate events for an expression, the matcher as the oracle,
//! and SQLite tables (flat and JSON layouts) with a Rust-regex `REGEXP` function.

#![allow(dead_code)]

use std::collections::BTreeSet;
use std::path::PathBuf;

use ipnet::IpNet;
use rusqlite::functions::FunctionFlags;
use rusqlite::types::ValueRef;
use rusqlite::Connection;
use serde_json::{json, Map, Value};
use sigil_core::ir::{CmpOp, Expr, Number, Piece, Pred, RefKind, TimePart};

pub fn root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// Ids of the events the matcher (the reference semantics) says match.
pub fn oracle(e: &Expr, events: &[Value]) -> Vec<i64> {
    let m = sigil_match::compile_expr(e).expect("the matcher compiles every test expression");
    events
        .iter()
        .enumerate()
        .filter(|(_, ev)| m.matches(*ev))
        .map(|(i, _)| i as i64)
        .collect()
}

/// Sets a dotted field in a nested JSON object.
pub fn set_path(ev: &mut Value, field: &str, v: Option<Value>) {
    let parts: Vec<&str> = field.split('.').collect();
    let mut cur = ev;
    for p in &parts[..parts.len() - 1] {
        if !cur.get(*p).is_some_and(Value::is_object) {
            cur[*p] = Value::Object(Map::new());
        }
        cur = &mut cur[*p];
    }
    let last = parts[parts.len() - 1];
    let obj = cur.as_object_mut().expect("object");
    match v {
        Some(v) => {
            obj.insert(last.to_string(), v);
        }
        None => {
            obj.remove(last);
        }
    }
}

fn fill(pieces: &[Piece], star: &str) -> String {
    let mut s = String::new();
    for p in pieces {
        match p {
            Piece::Lit(l) => s.push_str(l),
            Piece::Star | Piece::Placeholder(_) => s.push_str(star),
            Piece::Question => s.push('q'),
        }
    }
    s
}

fn swap_case(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_lowercase() {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect()
}

/// One literal character changed (the last alphanumeric of the text).
fn near_miss(s: &str) -> String {
    let mut chars: Vec<char> = s.chars().collect();
    if let Some(i) = chars.iter().rposition(|c| c.is_alphanumeric()) {
        chars[i] = if chars[i] == 'z' || chars[i] == 'Z' {
            'y'
        } else {
            'z'
        };
    } else {
        chars.push('z');
    }
    chars.into_iter().collect()
}

fn num_value(n: Number, delta: i64) -> Value {
    match n {
        Number::Int(i) => json!(i.saturating_add(delta)),
        Number::Float(f) => json!(f + delta as f64),
    }
}

fn timestamp_with(part: TimePart, v: i64) -> String {
    let (mut y, mut mo, mut d, mut h, mut mi) = (2024, 3, 14, 10, 30);
    match part {
        TimePart::Minute => mi = v.clamp(0, 59),
        TimePart::Hour => h = v.clamp(0, 23),
        TimePart::Day => d = v.clamp(1, 28),
        TimePart::Month => mo = v.clamp(1, 12),
        TimePart::Year => y = v.clamp(1971, 2200),
        TimePart::Week => {
            // Monday of ISO week v of 2024 (2024-01-01 is a Monday)
            let days = (v.clamp(1, 52) - 1) * 7;
            let date = chrono::NaiveDate::from_ymd_opt(2024, 1, 1).expect("date")
                + chrono::Days::new(days as u64);
            return format!("{}T{h:02}:{mi:02}:00Z", date.format("%Y-%m-%d"));
        }
    }
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:00Z")
}

/// Values to try for one predicate: the first one is meant to satisfy it.
fn values_for(p: &Pred) -> Vec<(String, Option<Value>)> {
    let s = |x: &str| Some(Value::String(x.to_string()));
    match p {
        Pred::Str { field, pattern, .. } => {
            let pieces = pattern.pieces();
            let a = fill(pieces, "");
            let b = fill(pieces, "ZZ x");
            vec![
                (field.clone(), s(&a)),
                (field.clone(), s(&b)),
                (field.clone(), s(&swap_case(&a))),
                (field.clone(), s(&near_miss(&a))),
                (field.clone(), s(&format!("{a}!"))),
                (field.clone(), None),
            ]
        }
        Pred::Keyword { pattern, .. } => {
            let a = fill(pattern.pieces(), "k ");
            vec![
                ("kw.deep".into(), s(&a)),
                ("kw.deep".into(), s(&swap_case(&a))),
                ("kw.deep".into(), s(&near_miss(&a))),
                ("kw.deep".into(), None),
            ]
        }
        Pred::Regex { field, regex, .. } => {
            let lit: String = regex
                .replace("\\b", "")
                .replace(".*", "")
                .replace(['^', '$'], "")
                .replace("\\.", ".")
                .replace("\\\\", "\\")
                .replace('+', "");
            vec![
                (field.clone(), s(&lit)),
                (field.clone(), s(&format!("pre {lit} post"))),
                (field.clone(), s(&swap_case(&lit))),
                (field.clone(), s(&format!("x\n{lit}"))),
                (field.clone(), s(&near_miss(&lit))),
                (field.clone(), None),
            ]
        }
        Pred::Cidr { field, net } => {
            let inside = net.hosts().next().unwrap_or(net.addr());
            let outside: String = match net {
                IpNet::V4(n) => n
                    .broadcast()
                    .to_bits()
                    .checked_add(1)
                    .map(|b| std::net::Ipv4Addr::from_bits(b).to_string())
                    .unwrap_or_else(|| "1.1.1.1".into()),
                IpNet::V6(n) => n
                    .broadcast()
                    .to_bits()
                    .checked_add(1)
                    .map(|b| std::net::Ipv6Addr::from_bits(b).to_string())
                    .unwrap_or_else(|| "::1".into()),
            };
            vec![
                (field.clone(), s(&inside.to_string())),
                (field.clone(), s(&outside)),
                (field.clone(), s("not an ip")),
                (field.clone(), s("999.1.1.1")),
                (field.clone(), None),
            ]
        }
        Pred::Num {
            field,
            value,
            part,
            op,
        } => match part {
            None => vec![
                (
                    field.clone(),
                    Some(num_value(
                        *value,
                        match op {
                            CmpOp::Gt => 1,
                            CmpOp::Lt => -1,
                            _ => 0,
                        },
                    )),
                ),
                (field.clone(), Some(num_value(*value, 0))),
                (field.clone(), Some(num_value(*value, 1))),
                (field.clone(), Some(num_value(*value, -1))),
                (field.clone(), s(&num_value(*value, 0).to_string())),
                (field.clone(), s(&num_value(*value, 1).to_string())),
                (field.clone(), s("abc")),
                (field.clone(), None),
            ],
            Some(part) => {
                let v = match value {
                    Number::Int(i) => *i,
                    Number::Float(f) => *f as i64,
                };
                vec![
                    (field.clone(), s(&timestamp_with(*part, v))),
                    (field.clone(), s(&timestamp_with(*part, v + 1))),
                    (field.clone(), s(&timestamp_with(*part, v - 1))),
                    (field.clone(), s("yesterday")),
                    (field.clone(), None),
                ]
            }
        },
        Pred::Bool { field, value } => vec![
            (field.clone(), Some(Value::Bool(*value))),
            (field.clone(), Some(Value::Bool(!*value))),
            (field.clone(), s(if *value { "True" } else { "FALSE" })),
            (field.clone(), s("maybe")),
            (field.clone(), None),
        ],
        Pred::Null { field } | Pred::Exists { field } => vec![
            (field.clone(), s("present")),
            (field.clone(), Some(Value::Null)),
            (field.clone(), None),
        ],
        Pred::FieldRef {
            field, other, kind, ..
        } => {
            let base = "Alpha";
            let own = match kind {
                RefKind::Equals => base.to_string(),
                RefKind::Contains => format!("x{base}y"),
                RefKind::StartsWith => format!("{base}y"),
                RefKind::EndsWith => format!("x{base}"),
            };
            vec![
                (other.clone(), s(base)),
                (field.clone(), s(base)),
                (field.clone(), s(&own)),
                (field.clone(), s(&swap_case(&own))),
                (field.clone(), s("unrelated")),
                (field.clone(), None),
            ]
        }
    }
}

/// Candidate events for an expression: one that tries to satisfy every predicate, and one
/// variation per predicate value (near misses: one character changed, case flipped,
/// number off by one, address outside the network, field missing, ...). The matcher
/// decides which of them match; labels are not trusted.
pub fn witnesses(e: &Expr) -> Vec<Value> {
    let mut preds = Vec::new();
    polarity(e, false, &mut preds);
    let mut base = json!({});
    for (p, negated) in &preds {
        if *negated {
            // a negated predicate is best falsified by leaving its field out
            if let Some(f) = p.field() {
                set_path(&mut base, f, None);
            }
            continue;
        }
        for (f, v) in values_for(p).into_iter().take(2) {
            let v = match (p, &v, sigil_engines::lookup(&base, &f)) {
                // several `contains` on one field (|all): put all the texts in
                (Pred::Str { pattern, .. }, Some(Value::String(new)), Some(Value::String(old)))
                    if pattern.starts_with_star() && pattern.ends_with_star() =>
                {
                    Some(Value::String(format!("{old} {new}")))
                }
                _ => v,
            };
            if v.is_some() {
                set_path(&mut base, &f, v);
            }
            if !matches!(p, Pred::FieldRef { .. }) {
                break;
            }
        }
    }
    // time parts of one field: one timestamp with every part
    let mut parts: Vec<(&str, TimePart, i64)> = Vec::new();
    for (p, negated) in &preds {
        if let (
            Pred::Num {
                field,
                part: Some(part),
                value,
                op,
            },
            false,
        ) = (p, negated)
        {
            let v = match value {
                Number::Int(i) => *i,
                Number::Float(f) => *f as i64,
            } + match op {
                CmpOp::Gt => 1,
                CmpOp::Lt => -1,
                _ => 0,
            };
            parts.push((field, *part, v));
        }
    }
    for (field, _, _) in &parts {
        let mine: Vec<(TimePart, i64)> = parts
            .iter()
            .filter(|(f, _, _)| f == field)
            .map(|(_, p, v)| (*p, *v))
            .collect();
        set_path(
            &mut base,
            field,
            Some(Value::String(timestamp_parts(&mine))),
        );
    }
    let mut out = vec![base.clone(), json!({})];
    for (p, _) in &preds {
        for (f, v) in values_for(p) {
            let mut ev = base.clone();
            set_path(&mut ev, &f, v);
            out.push(ev);
        }
    }
    let mut seen = BTreeSet::new();
    out.retain(|ev| seen.insert(ev.to_string()));
    out
}

fn polarity(e: &Expr, negated: bool, out: &mut Vec<(Pred, bool)>) {
    match e {
        Expr::Const(_) => {}
        Expr::Pred(p) => out.push((p.clone(), negated)),
        Expr::Not(inner) => polarity(inner, !negated, out),
        Expr::And(v) | Expr::Or(v) => v.iter().for_each(|x| polarity(x, negated, out)),
    }
}

fn timestamp_parts(parts: &[(TimePart, i64)]) -> String {
    let (mut y, mut mo, mut d, mut h, mut mi) = (2024i64, 3i64, 14i64, 10i64, 30i64);
    let mut week = None;
    for (p, v) in parts {
        match p {
            TimePart::Minute => mi = (*v).clamp(0, 59),
            TimePart::Hour => h = (*v).clamp(0, 23),
            TimePart::Day => d = (*v).clamp(1, 28),
            TimePart::Month => mo = (*v).clamp(1, 12),
            TimePart::Year => y = (*v).clamp(1971, 2200),
            TimePart::Week => week = Some((*v).clamp(1, 52)),
        }
    }
    if let Some(w) = week {
        let date = chrono::NaiveDate::from_ymd_opt(2024, 1, 1).expect("date")
            + chrono::Days::new(((w - 1) * 7) as u64);
        return format!("{}T{h:02}:{mi:02}:00Z", date.format("%Y-%m-%d"));
    }
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:00Z")
}

/// Text of a JSON value as a flat column holds it (strings as is, others as JSON text).
pub fn cell(v: Option<&Value>) -> Option<String> {
    match v {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => Some(other.to_string()),
    }
}

/// An in-memory SQLite database with the application `regexp(pattern, value)` function
/// that SQLite's `REGEXP` operator calls, implemented with Rust's `regex` (the matcher's
/// engine); numbers are matched as their text.
pub fn sqlite() -> Connection {
    let conn = Connection::open_in_memory().expect("sqlite");
    conn.create_scalar_function(
        "regexp",
        2,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            let re: std::sync::Arc<regex::Regex> = ctx.get_or_create_aux(0, |v| {
                let pattern = v.as_str().map_err(|e| e.to_string())?;
                regex::Regex::new(pattern).map_err(|e| e.to_string())
            })?;
            let text = match ctx.get_raw(1) {
                ValueRef::Null => return Ok(None),
                ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
                ValueRef::Integer(i) => i.to_string(),
                ValueRef::Real(f) => f.to_string(),
                ValueRef::Blob(_) => return Ok(None),
            };
            Ok(Some(re.is_match(&text)))
        },
    )
    .expect("register regexp");
    conn
}

/// `table (id INTEGER PRIMARY KEY, <field> TEXT...)` from the events (flat layout).
pub fn sqlite_flat(conn: &Connection, table: &str, fields: &[String], events: &[Value]) {
    let q = sigil_sql::quote_ident;
    let cols: Vec<String> = fields.iter().map(|f| format!("{} TEXT", q(f))).collect();
    let mut defs = vec!["id INTEGER PRIMARY KEY".to_string()];
    defs.extend(cols);
    conn.execute_batch(&format!(
        "DROP TABLE IF EXISTS {t}; CREATE TABLE {t} ({})",
        defs.join(", "),
        t = q(table)
    ))
    .expect("create flat table");
    let marks: Vec<String> = (0..=fields.len()).map(|i| format!("?{}", i + 1)).collect();
    let sql = format!("INSERT INTO {} VALUES ({})", q(table), marks.join(", "));
    let mut stmt = conn.prepare(&sql).expect("insert");
    for (i, ev) in events.iter().enumerate() {
        let mut row: Vec<rusqlite::types::Value> = vec![(i as i64).into()];
        for f in fields {
            row.push(match cell(sigil_engines::lookup(ev, f)) {
                Some(s) => s.into(),
                None => rusqlite::types::Value::Null,
            });
        }
        stmt.execute(rusqlite::params_from_iter(row))
            .expect("insert row");
    }
}

/// `table (id INTEGER PRIMARY KEY, doc TEXT)` holding each event as JSON text.
pub fn sqlite_json(conn: &Connection, table: &str, events: &[Value]) {
    let t = sigil_sql::quote_ident(table);
    conn.execute_batch(&format!(
        "DROP TABLE IF EXISTS {t}; CREATE TABLE {t} (id INTEGER PRIMARY KEY, doc TEXT NOT NULL)"
    ))
    .expect("create json table");
    let mut stmt = conn
        .prepare(&format!("INSERT INTO {t} VALUES (?1, ?2)"))
        .expect("insert");
    for (i, ev) in events.iter().enumerate() {
        stmt.execute(rusqlite::params![i as i64, ev.to_string()])
            .expect("insert row");
    }
}

/// Runs a query and returns the sorted `id`s, or the SQLite error.
pub fn sqlite_ids(conn: &Connection, sql: &str) -> Result<Vec<i64>, String> {
    let mut stmt = conn.prepare(sql).map_err(|e| e.to_string())?;
    let idx = stmt
        .column_names()
        .into_iter()
        .position(|c| c == "id")
        .ok_or("no id column")?;
    let mut ids: Vec<i64> = stmt
        .query_map([], |r| r.get::<_, i64>(idx))
        .map_err(|e| e.to_string())?
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    ids.sort_unstable();
    Ok(ids)
}
