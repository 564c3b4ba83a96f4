//! The registry of conversion targets: one entry per backend crate.

use sigil_core::backend::{Backend, BackendOptions};

/// Target names accepted by `-t`, with a one-line description.
pub fn list() -> Vec<(&'static str, &'static str)> {
    // Backends register here (one line each).
    vec![
        ("lucene", "Lucene / Elasticsearch query_string: -O case=exact|lowercase|regex, -O cidr=ip|keyword; formats default, kibana_ndjson, siem_rule, siem_rule_ndjson, dsl_lucene"),
        ("athena", "AWS Athena (Trino) SQL: -O layout=flat|json|cloudtrail, --table, -O output=condition"),
        ("postgres", "PostgreSQL SQL: -O layout=flat|json (jsonb), --table, -O output=condition"),
        ("sqlite", "SQLite SQL: -O layout=flat|json, --table, -O output=condition (regex needs a REGEXP function)"),
    ]
}

/// Construct the backend for a target name.
pub fn make(name: &str, _opts: &BackendOptions) -> anyhow::Result<Box<dyn Backend>> {
    // Backends register here (one match arm each).
    match name {
        "lucene" => Ok(Box::new(
            sigil_lucene::LuceneBackend::new(_opts).map_err(anyhow::Error::msg)?,
        )),
        "athena" | "postgres" | "sqlite" => {
            let dialect = sigil_sql::Dialect::from_name(name)
                .ok_or_else(|| anyhow::anyhow!("unknown SQL dialect '{name}'"))?;
            Ok(Box::new(
                sigil_sql::SqlBackend::from_options(dialect, _opts).map_err(anyhow::Error::msg)?,
            ))
        }
        other => anyhow::bail!(
            "unknown target '{other}'; known targets: {}",
            list()
                .iter()
                .map(|(n, _)| *n)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}
