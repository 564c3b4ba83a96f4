//! PostgreSQL tests. Skipped (loudly) without PostgreSQL, unless SIGIL_REQUIRE_ENGINES=1.

use serde_json::{json, Value};
use sigil_engines::{Column, Postgres};

fn events() -> Vec<Value> {
    vec![
        json!({"user": "Alice", "path": "C:\\Windows\\System32\\cmd.exe", "n": 5,
               "userIdentity": {"arn": "arn:aws:iam::1:user/Bob", "type": "IAMUser"}}),
        json!({"user": "bob", "path": "C:\\temp\\evil*.exe", "n": 10, "nothing": null,
               "pct": "100%_done"}),
        json!({"user": "carol", "n": 2.5, "userIdentity": {"type": "Root"}, "flag": true}),
    ]
}

fn start() -> Option<Postgres> {
    Postgres::start().expect("starting PostgreSQL")
}

fn check(pg: &mut Postgres, cases: &[(&str, Result<&[i64], &str>)]) {
    let mut failures = Vec::new();
    for (sql, want) in cases {
        let got = pg.query_ids(sql);
        let ok = match (&got, want) {
            (Ok(g), Ok(w)) => g == w,
            (Err(g), Err(w)) => g.contains(w),
            _ => false,
        };
        if !ok {
            failures.push(format!("{sql}\n  want {want:?}\n  got  {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn jsonb_table() {
    let Some(mut pg) = start() else { return };
    assert!(!pg.version().is_empty());
    pg.create_jsonb_table("ev", &events()).expect("table");
    check(
        &mut pg,
        &[
            ("SELECT id FROM ev WHERE doc->>'user' = 'bob'", Ok(&[1])),
            ("SELECT id FROM ev WHERE doc->>'user' ~* '^AL'", Ok(&[0])),
            ("SELECT id FROM ev WHERE doc->>'user' ~ '^al'", Ok(&[])),
            ("SELECT id FROM ev WHERE doc->>'user' ILIKE 'BO%'", Ok(&[1])),
            // LIKE with ESCAPE: a literal `*`, `%`, `_` and backslashes
            (
                r"SELECT id FROM ev WHERE doc->>'path' LIKE '%evil\*%' ESCAPE '\'",
                Ok(&[1]),
            ),
            (
                r"SELECT id FROM ev WHERE doc->>'path' LIKE '%\\temp\\%' ESCAPE '\'",
                Ok(&[1]),
            ),
            (
                r"SELECT id FROM ev WHERE doc->>'path' LIKE '%\\temp\\%'",
                Ok(&[1]),
            ),
            (
                r"SELECT id FROM ev WHERE doc->>'pct' LIKE '100\%\_%' ESCAPE '\'",
                Ok(&[1]),
            ),
            (
                r"SELECT id FROM ev WHERE lower(doc->>'path') LIKE '%\\system32\\%' ESCAPE '\'",
                Ok(&[0]),
            ),
            (
                "SELECT id FROM ev WHERE doc->'userIdentity'->>'type' = 'Root'",
                Ok(&[2]),
            ),
            (
                "SELECT id FROM ev WHERE doc #>> '{userIdentity,arn}' LIKE 'arn:aws:iam::%'",
                Ok(&[0]),
            ),
            ("SELECT id FROM ev WHERE doc ? 'nothing'", Ok(&[1])),
            (
                "SELECT id FROM ev WHERE doc->>'nothing' IS NULL",
                Ok(&[0, 1, 2]),
            ),
            ("SELECT id FROM ev WHERE (doc->>'n')::numeric > 5", Ok(&[1])),
            ("SELECT id FROM ev WHERE (doc->>'flag')::boolean", Ok(&[2])),
            (
                "SELECT id FROM ev WHERE NOT (doc->>'user' = 'bob')",
                Ok(&[0, 2]),
            ),
            ("SELECT id FROM nope", Err("42P01")),
            ("SELECT id FROM ev WHERE doc->>'user' ~ '('", Err("2201B")),
            ("SELECT doc FROM ev", Err("no `id` column")),
        ],
    );
    // still usable after errors
    check(
        &mut pg,
        &[(
            "SELECT id::int4 AS id FROM ev WHERE doc->>'user' = 'carol'",
            Ok(&[2]),
        )],
    );
}

#[test]
fn flat_table() {
    let Some(mut pg) = start() else { return };
    let columns = [
        Column::new("user", "text"),
        Column::new("path", "text"),
        Column::new("n", "double precision"),
        Column::from_path("userIdentity.arn", "text", "userIdentity.arn"),
        Column::new("userIdentity", "jsonb"),
        Column::new("flag", "boolean"),
    ];
    pg.create_flat_table("flat", &columns, &events())
        .expect("table");
    check(
        &mut pg,
        &[
            (
                "SELECT id FROM flat WHERE lower(\"user\") LIKE 'a%'",
                Ok(&[0]),
            ),
            (
                "SELECT id FROM flat WHERE \"userIdentity.arn\" IS NOT NULL",
                Ok(&[0]),
            ),
            (
                "SELECT id FROM flat WHERE \"userIdentity\"->>'type' = 'Root'",
                Ok(&[2]),
            ),
            ("SELECT id FROM flat WHERE n >= 5", Ok(&[0, 1])),
            ("SELECT id FROM flat WHERE flag", Ok(&[2])),
            (
                r"SELECT id FROM flat WHERE path LIKE 'C:\\W%' ESCAPE '\'",
                Ok(&[0]),
            ),
            ("SELECT id FROM flat WHERE path ~* 'EVIL\\*'", Ok(&[1])),
        ],
    );
    pg.batch_execute("CREATE INDEX ON flat (n); ANALYZE flat")
        .expect("batch_execute");
    assert!(pg.batch_execute("SELEC 1").is_err());
    let n: i64 = pg
        .client()
        .query_one("SELECT count(*) FROM flat", &[])
        .expect("count")
        .get(0);
    assert_eq!(n, 3);
}

#[test]
fn parallel_clusters_are_independent_and_cleaned_up() {
    let handles: Vec<_> = (0..2)
        .map(|i| {
            std::thread::spawn(move || {
                let mut pg = start()?;
                let dir = pg.socket_dir().to_path_buf();
                pg.batch_execute(&format!(
                    "CREATE TABLE t (id bigint); INSERT INTO t VALUES ({i})"
                ))
                .expect("create");
                let ids = pg.query_ids("SELECT id FROM t").expect("query");
                drop(pg);
                Some((ids, dir))
            })
        })
        .collect();
    for (i, h) in handles.into_iter().enumerate() {
        let Some((ids, dir)) = h.join().expect("thread") else {
            return;
        };
        assert_eq!(ids, vec![i as i64]);
        assert!(!dir.exists(), "{} not removed", dir.display());
    }
}

#[test]
fn cleaned_up_after_a_panic() {
    let dir = std::panic::catch_unwind(|| {
        let pg = start()?;
        let dir = pg.socket_dir().to_path_buf();
        std::panic::panic_any(dir);
        #[allow(unreachable_code)]
        Some(pg)
    });
    match dir {
        Ok(None) => {} // skipped
        Ok(Some(_)) => unreachable!(),
        Err(payload) => {
            let dir = payload
                .downcast::<std::path::PathBuf>()
                .expect("dir payload");
            assert!(!dir.exists(), "{} not removed after panic", dir.display());
        }
    }
}
