//! The SigmaHQ corpus (`../shared/corpus/sigmahq/rules`) converted to every dialect and
//! layout: the count converted and the error categories are reported (run with
//! `--nocapture` to see the table), and every emitted query must be accepted by a real
//! engine: prepared by SQLite, planned and run by PostgreSQL on an empty table, and parsed
//! by sqlglot's Athena dialect, transpiled and run by DuckDB on an empty table.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use sigil_core::backend::{Backend, BackendOptions};
use sigil_core::collection::{Collection, Lowered};
use sigil_engines::Column;
use sigil_sql::{Dialect, SqlBackend};

fn corpus() -> Lowered {
    let dir = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/corpus/sigmahq/rules"
    ));
    assert!(
        dir.is_dir(),
        "the SigmaHQ corpus is missing: expected {} (the checkout's sibling ../shared/corpus)",
        dir.display()
    );
    Collection::load_paths(&[dir]).expect("load corpus").lower()
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

/// A short category for an error message.
fn category(msg: &str) -> String {
    let m = msg.to_ascii_lowercase();
    for (needle, cat) in [
        ("keyword (full-text)", "keywords need layout=json"),
        ("cidr", "cidr (SQLite has no IP type)"),
        ("unicode classes", "regex: Unicode classes (PostgreSQL)"),
        (
            "inline flags only at the start",
            "regex: inline flags mid-pattern (PostgreSQL)",
        ),
        ("placeholder", "unresolved placeholder (needs a pipeline)"),
        ("lone backslash", "regex: trailing backslash"),
        ("json key", "field name not spellable as a JSON path"),
    ] {
        if m.contains(needle) {
            return cat.to_string();
        }
    }
    msg.chars().take(60).collect()
}

struct Converted {
    queries: Vec<String>,
    fields: BTreeSet<String>,
}

fn convert_all(set: &Lowered, b: &SqlBackend, report: &mut String) -> Converted {
    let mut ok = 0;
    let mut cats: BTreeMap<String, usize> = BTreeMap::new();
    let mut out = Converted {
        queries: vec![],
        fields: BTreeSet::new(),
    };
    for r in &set.rules {
        match b.convert_rule(r) {
            Ok(qs) => {
                ok += 1;
                out.queries.extend(qs);
                for c in &r.conditions {
                    out.fields.extend(sigil_sql::referenced_fields(c));
                }
            }
            Err(e) => {
                assert!(
                    e.unsupported || e.message.contains("placeholder"),
                    "{}: a real error converting {}: {e}",
                    b.dialect.name(),
                    r.meta.source.path
                );
                *cats.entry(category(&e.message)).or_default() += 1;
            }
        }
    }
    let layout = match b.layout {
        sigil_sql::Layout::Flat => "flat",
        sigil_sql::Layout::Json { .. } => "json",
        sigil_sql::Layout::CloudTrail => "cloudtrail",
    };
    report.push_str(&format!(
        "{:8} {:5}: {ok} of {} rules converted ({:.1}%)\n",
        b.dialect.name(),
        layout,
        set.rules.len(),
        100.0 * ok as f64 / set.rules.len().max(1) as f64
    ));
    for (c, n) in &cats {
        report.push_str(&format!("    {n:5}  {c}\n"));
    }
    out
}

/// SQLite and DuckDB/Trino identifiers are case-insensitive even when quoted: one column
/// per spelling that differs in more than case.
fn case_insensitive(fields: &BTreeSet<String>) -> Vec<String> {
    let mut seen = BTreeSet::new();
    fields
        .iter()
        .filter(|f| seen.insert(f.to_lowercase()))
        .cloned()
        .collect()
}

#[test]
fn sigmahq_converts_and_every_query_runs() {
    let set = corpus();
    assert!(set.rules.len() > 2000, "only {} rules", set.rules.len());
    let mut report = String::from("SigmaHQ rules/ → SQL\n");
    let mut converted = BTreeMap::new();
    for d in [Dialect::Athena, Dialect::Postgres, Dialect::Sqlite] {
        for layout in ["flat", "json"] {
            let c = convert_all(&set, &backend(d, layout), &mut report);
            // keywords (flat), cidr (SQLite) and a few regexes are the only gaps
            assert!(
                c.queries.len() * 100 >= set.rules.len() * 90,
                "{} {layout}: only {} queries",
                d.name(),
                c.queries.len()
            );
            converted.insert((d.name(), layout), c);
        }
    }
    eprintln!("{report}");

    // SQLite prepares every query
    let conn = common::sqlite();
    for layout in ["flat", "json"] {
        let c = &converted[&("sqlite", layout)];
        if layout == "flat" {
            let fields = case_insensitive(&c.fields);
            common::sqlite_flat(&conn, "events", &fields, &[]);
        } else {
            common::sqlite_json(&conn, "events", &[]);
        }
        for q in &c.queries {
            if let Err(e) = common::sqlite_ids(&conn, q) {
                panic!("sqlite {layout} rejects: {e}\n{q}");
            }
        }
    }

    // PostgreSQL plans and runs every query
    if let Some(mut pg) = sigil_engines::Postgres::start().expect("starting PostgreSQL") {
        for layout in ["flat", "json"] {
            let c = &converted[&("postgres", layout)];
            if layout == "flat" {
                let cols: Vec<Column> = c
                    .fields
                    .iter()
                    .map(|f| Column::new(f.clone(), "text"))
                    .collect();
                pg.create_flat_table("events", &cols, &[]).expect("table");
            } else {
                pg.create_jsonb_table("events", &[]).expect("table");
            }
            let mut failures = Vec::new();
            for q in &c.queries {
                if let Err(e) = pg.query_ids(q) {
                    failures.push(format!("{e}\n  {q}"));
                }
            }
            assert!(
                failures.is_empty(),
                "postgres {layout}: {} queries fail:\n{}",
                failures.len(),
                failures.join("\n")
            );
        }
    }

    // Athena: sqlglot parses, DuckDB runs
    if let Some(mut check) = sigil_engines::TrinoCheck::start().expect("starting the Trino check") {
        // the flat layout only: sqlglot takes ~1.5 minutes per layout on the corpus, and the
        // JSON accessors are covered by the engine tests
        {
            let layout = "flat";
            let c = &converted[&("athena", layout)];
            let cols: Vec<Column> = if layout == "flat" {
                case_insensitive(&c.fields)
                    .into_iter()
                    .map(|f| Column::new(f, "VARCHAR"))
                    .collect()
            } else {
                vec![Column::new("doc", "VARCHAR")]
            };
            let results = check
                .run_detailed("events", &cols, &[], &c.queries)
                .expect("trino check batch");
            let failures: Vec<String> = results
                .iter()
                .zip(&c.queries)
                .filter_map(|(r, q)| r.result.as_ref().err().map(|e| format!("{e}\n  {q}")))
                .collect();
            assert!(
                failures.is_empty(),
                "athena {layout}: {} of {} queries fail:\n{}",
                failures.len(),
                c.queries.len(),
                failures
                    .iter()
                    .take(20)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("\n")
            );
        }
    }
}
