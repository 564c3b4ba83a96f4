//! Proof on real engines: every compiled query, run over candidate events, must select
//! exactly the events the matcher (`sigil-match`, the reference semantics) accepts.
//!
//! * SQLite (bundled, through rusqlite): flat and JSON layouts.
//! * PostgreSQL (a throw-away cluster from `sigil-engines`): flat (TEXT columns) and JSON
//!   (`jsonb`) layouts.
//! * Athena: every query is parsed by sqlglot's `athena` dialect, transpiled to DuckDB and
//!   run there (`sigil-engines::TrinoCheck`): flat, JSON and CloudTrail layouts.
//!
//! Rules: the seed rules (`rules/`), `testdata/sql/rules/features.yml` and
//! `testdata/sql/rules/engine_cases.yml`. A conversion the target reports as unsupported is
//! counted, not compared.

mod common;

use common::*;
use serde_json::Value;
use sigil_core::backend::BackendOptions;
use sigil_core::collection::Collection;
use sigil_core::ir::Expr;
use sigil_engines::Column;
use sigil_sql::{Dialect, SqlBackend};

struct Case {
    name: String,
    expr: Expr,
    events: Vec<Value>,
    want: Vec<i64>,
    fields: Vec<String>,
    cloudtrail: bool,
}

fn has_array(v: &Value) -> bool {
    match v {
        Value::Array(_) => true,
        Value::Object(m) => m.values().any(has_array),
        _ => false,
    }
}

fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    let mut skipped_arrays = 0;
    for rel in [
        "rules",
        "testdata/sql/rules/features.yml",
        "testdata/sql/rules/engine_cases.yml",
    ] {
        let c = Collection::load_paths(&[root().join(rel)]).expect("load");
        let l = c.lower();
        assert!(l.errors.is_empty(), "{:?}", l.errors);
        for r in &l.rules {
            for (i, e) in r.conditions.iter().enumerate() {
                // sigil-witness's events (matches and one-predicate near misses), plus
                // this crate's SQL-minded candidates (common::witnesses)
                let mut events =
                    sigil_witness::witnesses(e, &sigil_witness::WitnessOptions::default());
                let mut seen: std::collections::BTreeSet<String> =
                    events.iter().map(Value::to_string).collect();
                events.extend(
                    witnesses(e)
                        .into_iter()
                        .filter(|ev| seen.insert(ev.to_string())),
                );
                // SQL rows hold one value per field: array values (which the matcher reads
                // element by element) are outside what the SQL layouts model (documented)
                let before = events.len();
                events.retain(|ev| !has_array(ev));
                skipped_arrays += before - events.len();
                let want = oracle(e, &events);
                out.push(Case {
                    name: format!("{} #{i}", r.meta.title),
                    expr: e.clone(),
                    want,
                    fields: sigil_sql::referenced_fields(e),
                    events,
                    cloudtrail: r.logsource.service.as_deref() == Some("cloudtrail"),
                });
            }
        }
    }
    assert!(out.len() >= 20, "only {} cases", out.len());
    let total: usize = out.iter().map(|c| c.events.len()).sum();
    eprintln!(
        "{} expressions, {total} candidate events ({skipped_arrays} with array values left out)",
        out.len()
    );
    // the candidate events must exercise both outcomes
    let positive = out.iter().filter(|c| !c.want.is_empty()).count();
    for c in out.iter().filter(|c| c.want.is_empty()) {
        eprintln!("no witness matches: {}", c.name);
    }
    let negative = out.iter().filter(|c| c.want.len() < c.events.len()).count();
    assert!(
        positive * 10 >= out.len() * 8 && negative == out.len(),
        "witnesses too weak: {positive} of {} cases have a match, {negative} a non-match",
        out.len()
    );
    out
}

fn backend(d: Dialect, layout: &str) -> SqlBackend {
    SqlBackend::from_options(
        d,
        &BackendOptions {
            table: Some("events".into()),
            options: [("layout".to_string(), layout.to_string())]
                .into_iter()
                .collect(),
        },
    )
    .expect("options")
}

#[derive(Default)]
struct Tally {
    compared: usize,
    unsupported: usize,
    failures: Vec<String>,
}

impl Tally {
    fn check(&mut self, case: &Case, target: &str, sql: &str, got: Result<Vec<i64>, String>) {
        self.compared += 1;
        if got.as_ref() != Ok(&case.want) {
            let got_s = match &got {
                Ok(ids) => format!("{ids:?}"),
                Err(e) => format!("error {e}"),
            };
            let mut diff = String::new();
            if let Ok(ids) = &got {
                for (i, ev) in case.events.iter().enumerate() {
                    let (w, g) = (case.want.contains(&(i as i64)), ids.contains(&(i as i64)));
                    if w != g {
                        diff.push_str(&format!("\n    event {i} matcher={w} engine={g}: {ev}"));
                    }
                }
            }
            self.failures.push(format!(
                "[{target}] {}\n  sql: {sql}\n  want {:?} got {got_s}{diff}",
                case.name, case.want
            ));
        }
    }

    fn finish(self, what: &str) {
        eprintln!(
            "{what}: {} queries compared, {} unsupported conversions, {} disagreements",
            self.compared,
            self.unsupported,
            self.failures.len()
        );
        assert!(
            self.failures.is_empty(),
            "{} disagreements with the matcher:\n{}",
            self.failures.len(),
            self.failures.join("\n")
        );
        assert!(self.compared > 0, "{what}: nothing compared");
    }
}

fn convert(b: &SqlBackend, case: &Case, tally: &mut Tally) -> Option<String> {
    match b.query(&case.expr) {
        Ok(q) => Some(q),
        Err(m) if m.starts_with("unsupported: ") => {
            tally.unsupported += 1;
            None
        }
        Err(m) => panic!("{} ({:?}): {m}", case.name, b.dialect),
    }
}

/// Every case on SQLite, in both table layouts.
fn run_sqlite(cases: &[Case], label: &str) {
    let conn = sqlite();
    let mut tally = Tally::default();
    for layout in ["flat", "json"] {
        let b = backend(Dialect::Sqlite, layout);
        for case in cases {
            let Some(sql) = convert(&b, case, &mut tally) else {
                continue;
            };
            if layout == "flat" {
                sqlite_flat(&conn, "events", &case.fields, &case.events);
            } else {
                sqlite_json(&conn, "events", &case.events);
            }
            let got = sqlite_ids(&conn, &sql);
            tally.check(case, &format!("sqlite {layout}"), &sql, got);
        }
    }
    tally.finish(label);
}

/// Every case on PostgreSQL, in both table layouts; `columns`: the flat table's columns.
fn run_postgres(cases: &[Case], label: &str, columns: impl Fn(&Case) -> Vec<String>) {
    let Some(mut pg) = sigil_engines::Postgres::start().expect("starting PostgreSQL") else {
        return;
    };
    let mut tally = Tally::default();
    for layout in ["flat", "json"] {
        let b = backend(Dialect::Postgres, layout);
        for case in cases {
            let Some(sql) = convert(&b, case, &mut tally) else {
                continue;
            };
            if layout == "flat" {
                let cols: Vec<Column> = columns(case)
                    .into_iter()
                    .map(|f| Column::new(f, "text"))
                    .collect();
                pg.create_flat_table("events", &cols, &case.events)
                    .expect("flat table");
            } else {
                // the JSON layout's column is `doc`
                pg.create_jsonb_table("events", &case.events)
                    .expect("jsonb table");
            }
            let got = pg.query_ids(&sql);
            tally.check(case, &format!("postgres {layout}"), &sql, got);
        }
    }
    tally.finish(label);
}

#[test]
fn sqlite_agrees_with_matcher() {
    run_sqlite(&cases(), "sqlite");
}

#[test]
fn postgres_agrees_with_matcher() {
    run_postgres(&cases(), "postgres", |c| c.fields.clone());
}

/// Lower-cases object keys and keeps only the fields a DuckDB STRUCT type names (Athena's
/// JSON SerDe matches struct fields case-insensitively and ignores the others).
fn to_struct(v: &Value, ty: &str) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| {
                    let k = k.to_ascii_lowercase();
                    ty.contains(&format!("({k} ")) || ty.contains(&format!(", {k} "))
                })
                .map(|(k, v)| (k.to_ascii_lowercase(), to_struct(v, ty)))
                .collect(),
        ),
        other => other.clone(),
    }
}

#[test]
fn athena_parses_and_agrees_on_duckdb() {
    let Some(mut check) = sigil_engines::TrinoCheck::start().expect("starting the Trino check")
    else {
        return;
    };
    let cases = cases();
    let mut tally = Tally::default();
    for layout in ["flat", "json", "cloudtrail"] {
        let b = backend(Dialect::Athena, layout);
        for case in &cases {
            if layout == "cloudtrail" && !case.cloudtrail {
                continue;
            }
            let Some(sql) = convert(&b, case, &mut tally) else {
                continue;
            };
            let (cols, events): (Vec<Column>, Vec<Value>) = match layout {
                "flat" => (
                    case.fields
                        .iter()
                        .map(|f| Column::new(f.clone(), "VARCHAR"))
                        .collect(),
                    case.events.clone(),
                ),
                "json" => (
                    vec![Column::new("doc", "VARCHAR")],
                    case.events
                        .iter()
                        .map(|e| serde_json::json!({ "doc": e }))
                        .collect(),
                ),
                _ => {
                    let cols = sigil_sql::cloudtrail_duckdb_columns();
                    let events = case
                        .events
                        .iter()
                        .map(|ev| {
                            let mut row = serde_json::Map::new();
                            for (col, ty, key) in &cols {
                                if let Some(v) = ev.get(key) {
                                    let v = if ty.starts_with("STRUCT") {
                                        // DuckDB reads the JSON text into the STRUCT
                                        Value::String(to_struct(v, ty).to_string())
                                    } else {
                                        v.clone()
                                    };
                                    row.insert(col.clone(), v);
                                }
                            }
                            Value::Object(row)
                        })
                        .collect();
                    (
                        cols.iter()
                            .map(|(c, ty, _)| Column::new(c.clone(), ty.clone()))
                            .collect(),
                        events,
                    )
                }
            };
            let got = check
                .run("events", &cols, &events, &[&sql])
                .expect("trino check batch")
                .pop()
                .expect("one result");
            tally.check(case, &format!("athena {layout}"), &sql, got);
        }
    }
    tally.finish("athena (sqlglot + duckdb)");
}

/// Every 10th rule of the SigmaHQ corpus with sigil-witness events (array values left out).
fn sigmahq_sample() -> Vec<Case> {
    let dir = root().join("../shared/corpus/sigmahq/rules");
    assert!(
        dir.is_dir(),
        "the SigmaHQ corpus is missing: {}",
        dir.display()
    );
    let l = Collection::load_paths(&[dir]).expect("load").lower();
    let mut out = Vec::new();
    for r in l.rules.iter().step_by(10) {
        for (i, e) in r.conditions.iter().enumerate() {
            let mut events = sigil_witness::witnesses(e, &sigil_witness::WitnessOptions::default());
            events.retain(|ev| !has_array(ev));
            // SQLite and DuckDB column names are case-insensitive: one spelling per column
            let mut seen = std::collections::BTreeSet::new();
            let fields = sigil_sql::referenced_fields(e)
                .into_iter()
                .filter(|f| seen.insert(f.to_lowercase()))
                .collect();
            out.push(Case {
                name: format!("{} #{i}", r.meta.source.path),
                expr: e.clone(),
                want: oracle(e, &events),
                fields,
                events,
                cloudtrail: false,
            });
        }
    }
    out
}

#[test]
fn sqlite_agrees_with_matcher_on_sigmahq_sample() {
    run_sqlite(&sigmahq_sample(), "sqlite, SigmaHQ sample");
}

#[test]
fn postgres_agrees_with_matcher_on_sigmahq_sample() {
    // PostgreSQL's quoted column names are case-sensitive: every spelling is a column.
    run_postgres(&sigmahq_sample(), "postgres, SigmaHQ sample", |c| {
        sigil_sql::referenced_fields(&c.expr)
    });
}
