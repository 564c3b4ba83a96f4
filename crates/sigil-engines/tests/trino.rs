//! Athena/Trino check tests (sqlglot + DuckDB). Skipped (loudly) when the Python
//! packages are missing, unless SIGIL_REQUIRE_ENGINES=1.

use serde_json::{json, Value};
use sigil_engines::{Column, TrinoCheck, TrinoStage};

fn events() -> Vec<Value> {
    vec![
        json!({"user": "Alice", "cmd": "C:\\Windows\\System32\\cmd.exe /c 50%x", "ip": "10.1.2.3",
               "n": "7", "ts": "2024-01-03T10:15:00Z",
               "userIdentity": {"arn": "arn:aws:iam::1:user/Bob", "type": "IAMUser"}}),
        json!({"user": "bob", "cmd": "evil.exe", "ip": "192.168.1.5", "n": "abc",
               "ts": "2024-01-07T23:00:00Z", "userIdentity": {"type": "Root"}}),
        json!({"user": "carol", "ip": "fe80::1", "n": "2.5", "ts": "2024-12-30T01:00:00Z"}),
        json!({"user": "dave", "ip": "not an ip"}),
    ]
}

fn columns() -> Vec<Column> {
    vec![
        Column::new("user", "VARCHAR"),
        Column::new("cmd", "VARCHAR"),
        Column::new("ip", "VARCHAR"),
        Column::new("n", "VARCHAR"),
        Column::new("ts", "VARCHAR"),
        Column::new("userIdentity", "VARCHAR"),
        Column::from_path("arn", "VARCHAR", "userIdentity.arn"),
    ]
}

fn start() -> Option<TrinoCheck> {
    TrinoCheck::start().expect("starting the Trino check")
}

#[test]
fn trino_constructs_run_on_duckdb() {
    let Some(mut check) = start() else { return };
    assert!(
        check.versions().contains("sqlglot="),
        "{}",
        check.versions()
    );
    let cases: &[(&str, &[i64])] = &[
        ("SELECT id FROM events WHERE regexp_like(\"user\", '^[ab]')", &[1]),
        ("SELECT id FROM events WHERE regexp_like(\"user\", '(?i)^[ab]')", &[0, 1]),
        (r"SELECT id FROM events WHERE LOWER(cmd) LIKE '%50\%x%' ESCAPE '\'", &[0]),
        (r"SELECT id FROM events WHERE LOWER(cmd) LIKE '%\\system32\\%' ESCAPE '\'", &[0]),
        (r"SELECT id FROM events WHERE cmd LIKE 'C:\Windows%'", &[0]),
        ("SELECT id FROM events WHERE json_extract_scalar(\"userIdentity\", '$.type') = 'Root'", &[1]),
        ("SELECT id FROM events WHERE json_extract_scalar(\"userIdentity\", '$.arn') LIKE 'arn:aws:iam::%'", &[0]),
        ("SELECT id FROM events WHERE arn IS NOT NULL", &[0]),
        ("SELECT id FROM events WHERE TRY_CAST(n AS DOUBLE) > 5", &[0]),
        ("SELECT id FROM events WHERE TRY_CAST(n AS DOUBLE) <= 5", &[2]),
        ("SELECT id FROM events WHERE from_iso8601_timestamp(ts) > from_iso8601_timestamp('2024-01-05T00:00:00Z')", &[1, 2]),
        ("SELECT id FROM events WHERE hour(from_iso8601_timestamp(ts)) = 10", &[0]),
        ("SELECT id FROM events WHERE day_of_week(from_iso8601_timestamp(ts)) = 7", &[1]),
        ("SELECT id FROM events WHERE week(from_iso8601_timestamp(ts)) = 1", &[0, 1, 2]),
        ("SELECT id FROM events WHERE contains('10.0.0.0/8', TRY_CAST(ip AS IPADDRESS))", &[0]),
        ("SELECT id FROM events WHERE contains('fe80::/10', TRY_CAST(ip AS IPADDRESS))", &[2]),
        ("SELECT id FROM events WHERE NOT contains('10.0.0.0/8', TRY_CAST(ip AS IPADDRESS))", &[1, 2]),
        ("SELECT id FROM events WHERE \"user\" IN ('bob', 'carol') AND NOT (ip IS NULL)", &[1, 2]),
        ("SELECT id FROM events WHERE strpos(cmd, 'evil') > 0 OR starts_with(\"user\", 'd')", &[1, 3]),
    ];
    let queries: Vec<&str> = cases.iter().map(|(q, _)| *q).collect();
    let got = check
        .run_detailed("events", &columns(), &events(), &queries)
        .expect("batch");
    let mut failures = Vec::new();
    for ((q, want), got) in cases.iter().zip(&got) {
        if got.result.as_deref() != Ok(*want) {
            failures.push(format!("{q}\n  want {want:?}\n  got  {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(got[14]
        .emulated
        .iter()
        .any(|e| e.contains("sigil_cidr_contains")));
    assert_eq!(
        got[0].duckdb_sql.as_deref(),
        Some("SELECT id FROM events WHERE REGEXP_MATCHES(\"user\", '^[ab]')")
    );
}

#[test]
fn failures_are_reported_per_query_with_their_stage() {
    let Some(mut check) = start() else { return };
    let queries = [
        // not valid SQL
        "SELECT id FROM events WHERE (",
        // sqlglot is lenient: this parses as an alias, and is rejected as "not a query"
        "SELEC id",
        // CAST on non-numeric text fails at run time in Trino and DuckDB alike
        "SELECT id FROM events WHERE CAST(n AS DOUBLE) > 5",
        // CAST to IPADDRESS of a non-IP text fails like in Trino
        "SELECT id FROM events WHERE contains('10.0.0.0/8', CAST(ip AS IPADDRESS))",
        // is_subnet_of / IPPREFIX are not emulated
        "SELECT id FROM events WHERE is_subnet_of(IPPREFIX '10.0.0.0/8', CAST(ip AS IPADDRESS))",
        "SELECT id FROM missing_table",
        "SELECT \"user\" FROM events",
        "SELECT id FROM events WHERE \"user\" = 'bob'",
    ];
    let got = check
        .run_detailed("events", &columns(), &events(), &queries)
        .expect("batch");
    let stages: Vec<Option<TrinoStage>> = got.iter().map(|o| o.failed_stage).collect();
    assert_eq!(
        stages,
        [
            Some(TrinoStage::Parse),
            Some(TrinoStage::Parse),
            Some(TrinoStage::Execute),
            Some(TrinoStage::Execute),
            Some(TrinoStage::Execute),
            Some(TrinoStage::Execute),
            Some(TrinoStage::Execute),
            None,
        ],
        "{got:#?}"
    );
    assert_eq!(got[7].result, Ok(vec![1]));
    // the process is still usable
    let again = check
        .run(
            "t",
            &[Column::new("a", "BIGINT")],
            &[json!({"a": 1}), json!({"a": 2})],
            &["SELECT id FROM t WHERE a > 1"],
        )
        .expect("second batch");
    assert_eq!(again, vec![Ok(vec![1])]);
}
