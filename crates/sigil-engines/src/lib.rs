//! Test support for sigil's backends: run compiled queries on **real** engines
//! over JSON events and report which events matched.
//!
//! * [`LuceneEngine`]: Apache Lucene's classic `QueryParser` over an in-memory
//!   index with Elasticsearch `keyword` semantics (a long-lived `java` process).
//! * [`Postgres`]: a throw-away PostgreSQL cluster per instance, driven with the
//!   `postgres` crate over a unix socket.
//! * [`TrinoCheck`]: Athena (Trino) SQL parsed with sqlglot's Athena dialect,
//!   transpiled to DuckDB and executed there (a long-lived `python3` process).
//!
//! Every constructor returns `Ok(None)` after printing
//! `SKIPPED: <engine> not available: <reason>` on stderr when the engine is
//! missing, unless `SIGIL_REQUIRE_ENGINES=1`, in which case it returns an error.
//! `scripts/install-engines.sh` installs everything on a Debian machine.
//!
//! This crate deliberately does not depend on other sigil crates.

mod lucene;
mod pg;
mod proc;
mod trino;

pub use lucene::{IndexMode, LuceneEngine, LuceneHit};
pub use pg::Postgres;
pub use trino::{TrinoCheck, TrinoOutcome, TrinoStage};

use serde_json::Value;

/// Environment variable that turns "engine missing" from a skip into an error.
pub const REQUIRE_ENGINES_ENV: &str = "SIGIL_REQUIRE_ENGINES";

/// True when `SIGIL_REQUIRE_ENGINES=1` (or `true`/`yes`): missing engines are errors.
pub fn require_engines() -> bool {
    matches!(
        std::env::var(REQUIRE_ENGINES_ENV).as_deref().map(str::trim),
        Ok("1") | Ok("true") | Ok("yes")
    )
}

/// The common "engine missing" path: a loud skip, or an error when engines are required.
pub(crate) fn unavailable<T>(
    engine: &str,
    reason: impl std::fmt::Display,
) -> anyhow::Result<Option<T>> {
    if require_engines() {
        anyhow::bail!("{engine} not available: {reason} ({REQUIRE_ENGINES_ENV}=1)");
    }
    eprintln!("SKIPPED: {engine} not available: {reason}");
    Ok(None)
}

/// A column of a table built from JSON events (used by [`Postgres`] and [`TrinoCheck`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// Column name (quoted as an identifier, so any text works).
    pub name: String,
    /// SQL type in the target engine's spelling (`TEXT`, `BIGINT`, `JSONB`, `VARCHAR`, `JSON`, ...).
    pub sql_type: String,
    /// Where the value comes from in the event: a top-level key, or a dotted path into
    /// nested objects (`userIdentity.arn`). `None` means the column name.
    pub source: Option<String>,
}

impl Column {
    /// A column whose value is `event[name]` (or the dotted path `name`).
    pub fn new(name: impl Into<String>, sql_type: impl Into<String>) -> Self {
        Column {
            name: name.into(),
            sql_type: sql_type.into(),
            source: None,
        }
    }

    /// A column whose value comes from `source` (a key or a dotted path).
    pub fn from_path(
        name: impl Into<String>,
        sql_type: impl Into<String>,
        source: impl Into<String>,
    ) -> Self {
        Column {
            name: name.into(),
            sql_type: sql_type.into(),
            source: Some(source.into()),
        }
    }

    pub(crate) fn source(&self) -> &str {
        self.source.as_deref().unwrap_or(&self.name)
    }
}

/// Looks `path` up in `event`: first as a literal key, then as a dotted path.
pub fn lookup<'a>(event: &'a Value, path: &str) -> Option<&'a Value> {
    let obj = event.as_object()?;
    if let Some(v) = obj.get(path) {
        return Some(v);
    }
    let mut cur = event;
    for part in path.split('.') {
        cur = cur.as_object()?.get(part)?;
    }
    Some(cur)
}

/// Quotes an SQL identifier with double quotes (PostgreSQL, DuckDB, Trino).
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
