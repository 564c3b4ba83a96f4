//! insta snapshots of the SQL for every dialect and layout: the seed rules (`rules/`), a
//! feature file covering every IR predicate (`testdata/sql/rules/features.yml`) and the
//! correlation types (`testdata/sql/rules/correlations.yml`).

use std::path::PathBuf;

use sigil_core::backend::{Backend, BackendOptions};
use sigil_core::collection::{Collection, Lowered};
use sigil_sql::{Dialect, SqlBackend};

fn root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

fn lower(rel: &str) -> Lowered {
    let c = Collection::load_paths(&[root().join(rel)]).expect("load");
    let l = c.lower();
    let errs: Vec<String> = c
        .load_errors()
        .chain(l.errors.iter())
        .map(|e| e.to_string())
        .collect();
    assert!(errs.is_empty(), "{errs:?}");
    l
}

fn backend(d: Dialect, opts: &[(&str, &str)]) -> SqlBackend {
    let o = BackendOptions {
        table: None,
        options: opts
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    };
    SqlBackend::from_options(d, &o).expect("options")
}

fn render(b: &SqlBackend, set: &Lowered) -> String {
    let mut out = String::new();
    for r in &set.rules {
        out.push_str(&format!("== {}\n", r.meta.title));
        match b.convert_rule(r) {
            Ok(qs) => qs.iter().for_each(|q| out.push_str(&format!("{q}\n"))),
            Err(e) => out.push_str(&format!(
                "{}: {}\n",
                if e.unsupported {
                    "UNSUPPORTED"
                } else {
                    "ERROR"
                },
                e.message
            )),
        }
    }
    for c in &set.correlations {
        out.push_str(&format!("== {}\n", c.meta.title));
        match b.convert_correlation(c, set) {
            Ok(qs) => qs.iter().for_each(|q| out.push_str(&format!("{q}\n"))),
            Err(e) => out.push_str(&format!(
                "{}: {}\n",
                if e.unsupported {
                    "UNSUPPORTED"
                } else {
                    "ERROR"
                },
                e.message
            )),
        }
    }
    out
}

const DIALECTS: [Dialect; 3] = [Dialect::Athena, Dialect::Postgres, Dialect::Sqlite];

#[test]
fn seed_rules_compile_for_every_dialect() {
    let set = lower("rules");
    assert!(!set.rules.is_empty());
    for d in DIALECTS {
        for layout in ["flat", "json"] {
            let b = backend(d, &[("layout", layout)]);
            for r in &set.rules {
                let qs = b
                    .convert_rule(r)
                    .unwrap_or_else(|e| panic!("{} {layout}: {e}", d.name()));
                assert!(qs.iter().all(|q| q.starts_with("SELECT * FROM ")));
            }
            insta::assert_snapshot!(format!("seed_{}_{layout}", d.name()), render(&b, &set));
        }
    }
    let b = backend(Dialect::Athena, &[("layout", "cloudtrail")]);
    insta::assert_snapshot!("seed_athena_cloudtrail", render(&b, &set));
}

#[test]
fn features_per_dialect() {
    let set = lower("testdata/sql/rules/features.yml");
    for d in DIALECTS {
        for layout in ["flat", "json"] {
            let b = backend(d, &[("layout", layout), ("output", "condition")]);
            insta::assert_snapshot!(format!("features_{}_{layout}", d.name()), render(&b, &set));
        }
    }
    let b = backend(
        Dialect::Athena,
        &[("layout", "cloudtrail"), ("output", "condition")],
    );
    insta::assert_snapshot!("features_athena_cloudtrail", render(&b, &set));
}

#[test]
fn correlations_per_dialect() {
    let set = lower("testdata/sql/rules/correlations.yml");
    for d in DIALECTS {
        let b = backend(d, &[("timestamp", "eventTime")]);
        insta::assert_snapshot!(format!("correlations_{}", d.name()), render(&b, &set));
    }
    let b = backend(Dialect::Athena, &[("layout", "cloudtrail")]);
    insta::assert_snapshot!("correlations_athena_cloudtrail", render(&b, &set));
}

#[test]
fn options_are_checked() {
    let bad = |d, k: &str, v: &str| {
        SqlBackend::from_options(
            d,
            &BackendOptions {
                table: None,
                options: [(k.to_string(), v.to_string())].into_iter().collect(),
            },
        )
        .unwrap_err()
    };
    assert!(bad(Dialect::Sqlite, "nope", "1").contains("unknown option 'nope'"));
    assert!(bad(Dialect::Sqlite, "layout", "xml").contains("unknown layout 'xml'"));
    assert!(bad(Dialect::Postgres, "layout", "cloudtrail").contains("Athena"));
    assert!(bad(Dialect::Athena, "output", "rows").contains("unknown output"));
    assert!(bad(Dialect::Athena, "json_column", "d").contains("needs layout=json"));
    let b = SqlBackend::from_options(
        Dialect::Postgres,
        &BackendOptions {
            table: Some("logs.\"evil\"".into()),
            options: Default::default(),
        },
    )
    .unwrap();
    assert_eq!(b.quoted_table(), r#""logs"."""evil""""#);
}

#[test]
fn cloudtrail_ddl_is_shipped() {
    let ddl = sigil_sql::athena_ddl(
        "cloudtrail_logs",
        "s3://amzn-s3-demo-bucket/AWSLogs/111122223333/CloudTrail/",
    );
    let path = root().join("testdata/sql/athena_cloudtrail_table.sql");
    let shipped =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(
        shipped.split("\n\n").last().unwrap_or_default(),
        ddl,
        "testdata/sql/athena_cloudtrail_table.sql is out of date with cloudtrail.rs"
    );
}
