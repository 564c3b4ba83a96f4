//! Correlation SQL on real engines: the groups each correlation query reports must be the
//! groups for which `sigil-match`'s correlation engine fires at least once over the same
//! events (and the hand-written expectations below, so the events exercise every type).
//! SQLite and PostgreSQL run the statements directly; Athena's go through sqlglot + DuckDB.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::*;
use serde_json::{json, Value};
use sigil_core::backend::BackendOptions;
use sigil_core::collection::{Collection, Lowered};
use sigil_engines::Column;
use sigil_match::{DetectionKind, Engine, EngineOptions};
use sigil_sql::{Dialect, SqlBackend};

fn set() -> Lowered {
    let c = Collection::load_paths(&[root().join("testdata/sql/rules/correlations.yml")])
        .expect("load");
    let l = c.lower();
    assert!(l.errors.is_empty(), "{:?}", l.errors);
    l
}

fn ts(t: i64) -> String {
    let base = chrono::DateTime::parse_from_rfc3339("2024-05-01T00:00:00Z").expect("time");
    (base + chrono::Duration::seconds(t))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

fn login(t: i64, ok: bool, ip: &str, arn: &str) -> Value {
    json!({
        "eventTime": ts(t), "eventName": "ConsoleLogin",
        "responseElements": {"ConsoleLogin": if ok { "Success" } else { "Failure" }},
        "sourceIPAddress": ip, "userIdentity": {"arn": arn},
    })
}

fn download(t: i64, arn: &str, bytes: i64, issuer: Option<&str>) -> Value {
    let mut ev = json!({
        "eventTime": ts(t), "eventName": "GetObject", "userIdentity": {"arn": arn},
        "additionalEventData": {"bytesTransferredOut": bytes},
    });
    if let Some(i) = issuer {
        ev["userIdentity"]["sessionContext"] = json!({"sessionIssuer": {"arn": i}});
    }
    ev
}

/// Events in time order. Group values are numbers so that queries can return them as `id`.
fn events() -> Vec<Value> {
    let mut evs = vec![
        // ip 1: three failures then a success, within 5 minutes
        login(0, false, "1", "10"),
        login(60, false, "1", "10"),
        login(120, false, "1", "10"),
        login(180, true, "1", "10"),
        // ip 2: two failures far apart
        login(0, false, "2", "10"),
        login(1000, false, "2", "10"),
        // ip 3: success, then a failure
        login(0, true, "3", "10"),
        login(60, false, "3", "10"),
        // ip 4: failure, success after more than 5 minutes
        login(0, false, "4", "11"),
        login(400, true, "4", "11"),
        // downloads
        download(0, "20", 600_000, Some("10")),
        download(100, "20", 500_000, Some("10")),
        download(0, "21", 1000, None),
        download(50, "21", 2000, None),
        download(90, "21", 3000, None),
    ];
    evs.sort_by_key(|e| e["eventTime"].as_str().unwrap_or_default().to_string());
    evs
}

/// Correlation title → groups (as numbers) that must be reported.
fn expected() -> BTreeMap<&'static str, Vec<i64>> {
    BTreeMap::from([
        ("Many failed logins", vec![1]),
        ("Logins from many addresses", vec![10]),
        ("Large download volume", vec![20]),
        ("Average download size", vec![21]),
        ("Brute force then success", vec![1, 3]),
        ("Brute force then success, in order", vec![1]),
        ("Failure without success", vec![1, 2, 4]),
        ("Median download size", vec![20, 21]),
        ("Aliased group", vec![10]),
    ])
}

/// Groups for which the matcher's correlation engine fires, per correlation title.
fn matcher_groups(set: &Lowered, evs: &[Value]) -> BTreeMap<String, Vec<i64>> {
    let (mut engine, errs) = Engine::new(
        set,
        EngineOptions {
            timestamp_fields: vec!["eventTime".into()],
            ..Default::default()
        },
    );
    assert!(errs.is_empty(), "{errs:?}");
    let mut out: BTreeMap<String, BTreeSet<i64>> = BTreeMap::new();
    for c in &set.correlations {
        out.insert(c.meta.title.clone(), BTreeSet::new());
    }
    for ev in evs {
        for d in engine.process(ev) {
            if d.kind != DetectionKind::Correlation {
                continue;
            }
            let key = d
                .group
                .first()
                .and_then(|(_, v)| v.as_deref())
                .and_then(|v| v.parse::<i64>().ok());
            if let Some(k) = key {
                out.entry(d.meta.title.to_string()).or_default().insert(k);
            }
        }
    }
    out.into_iter()
        .map(|(k, v)| (k, v.into_iter().collect()))
        .collect()
}

fn wrapped(b: &SqlBackend, set: &Lowered, i: usize) -> Option<String> {
    let c = &set.correlations[i];
    match sigil_sql::correlation::convert(b, c, set) {
        Ok(q) => {
            let col = sigil_sql::quote_ident(&c.group_by[0]);
            Some(format!(
                "SELECT CAST({col} AS BIGINT) AS id FROM ({q}) AS sigil_c WHERE {col} IS NOT NULL"
            ))
        }
        Err(e) if e.unsupported => None,
        Err(e) => panic!("{}: {e}", c.meta.title),
    }
}

fn flat_fields() -> Vec<String> {
    [
        "eventTime",
        "eventName",
        "responseElements.ConsoleLogin",
        "sourceIPAddress",
        "userIdentity.arn",
        "additionalEventData.bytesTransferredOut",
        "userIdentity.sessionContext.sessionIssuer.arn",
    ]
    .map(String::from)
    .to_vec()
}

fn backend(d: Dialect) -> SqlBackend {
    SqlBackend::from_options(
        d,
        &BackendOptions {
            table: Some("events".into()),
            options: [("timestamp".to_string(), "eventTime".to_string())]
                .into_iter()
                .collect(),
        },
    )
    .expect("options")
}

fn compare(
    target: &str,
    set: &Lowered,
    results: Vec<(usize, Result<Vec<i64>, String>)>,
    unsupported: &[&str],
) {
    let evs = events();
    let oracle = matcher_groups(set, &evs);
    let expected = expected();
    let mut failures = Vec::new();
    let mut done = BTreeSet::new();
    for (i, got) in results {
        let title = set.correlations[i].meta.title.as_str();
        done.insert(title);
        let want = &oracle[title];
        if want.as_slice() != expected[title].as_slice() {
            failures.push(format!(
                "{title}: matcher fires for {want:?}, the test expects {:?}",
                expected[title]
            ));
        }
        if got.as_ref() != Ok(want) {
            failures.push(format!("[{target}] {title}: want {want:?}, got {got:?}"));
        }
    }
    for c in &set.correlations {
        let t = c.meta.title.as_str();
        if !done.contains(t) && !unsupported.contains(&t) {
            failures.push(format!("[{target}] {t}: not converted"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn sqlite_correlations_agree_with_matcher() {
    let set = set();
    let conn = sqlite();
    sqlite_flat(&conn, "events", &flat_fields(), &events());
    let b = backend(Dialect::Sqlite);
    let results = (0..set.correlations.len())
        .filter_map(|i| wrapped(&b, &set, i).map(|q| (i, sqlite_ids(&conn, &q))))
        .collect();
    compare("sqlite", &set, results, &["Median download size"]);
}

#[test]
fn postgres_correlations_agree_with_matcher() {
    let Some(mut pg) = sigil_engines::Postgres::start().expect("starting PostgreSQL") else {
        return;
    };
    let set = set();
    let cols: Vec<Column> = flat_fields()
        .into_iter()
        .map(|f| Column::new(f, "text"))
        .collect();
    pg.create_flat_table("events", &cols, &events())
        .expect("table");
    let b = backend(Dialect::Postgres);
    let results = (0..set.correlations.len())
        .filter_map(|i| wrapped(&b, &set, i).map(|q| (i, pg.query_ids(&q))))
        .collect();
    compare("postgres", &set, results, &[]);
}

#[test]
fn athena_correlations_agree_with_matcher_on_duckdb() {
    let Some(mut check) = sigil_engines::TrinoCheck::start().expect("starting the Trino check")
    else {
        return;
    };
    let set = set();
    let cols: Vec<Column> = flat_fields()
        .into_iter()
        .map(|f| Column::new(f, "VARCHAR"))
        .collect();
    let b = backend(Dialect::Athena);
    let queries: Vec<(usize, String)> = (0..set.correlations.len())
        .filter_map(|i| wrapped(&b, &set, i).map(|q| (i, q)))
        .collect();
    let sql: Vec<&str> = queries.iter().map(|(_, q)| q.as_str()).collect();
    let got = check
        .run("events", &cols, &events(), &sql)
        .expect("trino check batch");
    let results = queries.iter().map(|(i, _)| *i).zip(got).collect();
    compare("athena", &set, results, &["Median download size"]);
}
