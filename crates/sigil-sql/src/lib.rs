//! sigil-sql: Sigma IR → SQL for Athena (Trino), PostgreSQL and SQLite.
//!
//! One [`Backend`] implementation, [`SqlBackend`], parameterised by a [`Dialect`] and a
//! table [`Layout`]. A rule becomes `SELECT * FROM <table> WHERE <condition>` (or the bare
//! condition with `-O output=condition`); correlation rules become one `WITH ... SELECT`
//! statement (see [`correlation`]).
//!
//! # Options (`--table NAME`, `-O key=value`)
//!
//! | key | values | default |
//! |---|---|---|
//! | `layout` | `flat` (one text column per field), `json` (one JSON document column), `cloudtrail` (the AWS Athena CloudTrail table, Athena only) | `flat` |
//! | `json_column` | column holding the document (`json` layout) | `doc` |
//! | `output` | `query` (`SELECT ... WHERE ...`), `condition` (the bare condition) | `query` |
//! | `select` | the select list of rule queries (raw SQL) | `*` |
//! | `timestamp` | field holding the event time (ISO 8601 text), for correlations | `timestamp` (`eventTime` for `cloudtrail`) |
//!
//! `--table` defaults to `events` (`cloudtrail_logs` for the `cloudtrail` layout); a dotted
//! name (`db.table`) is quoted part by part. Unknown keys and values are errors.
//!
//! # Semantics and per-engine choices
//!
//! The IR semantics are normative (the `sigil-match` matcher is the reference); the SQL
//! is proven against it on PostgreSQL, SQLite and (via sqlglot + DuckDB) Athena SQL.
//!
//! * **NULLs.** SQL is three-valued, Sigma is not: `NOT (x = 'a')` must hold when `x` is
//!   missing. In positive positions NULL behaves as false already (AND/OR are monotone);
//!   below a `NOT` every predicate that can be NULL is wrapped in `COALESCE(.., FALSE)`.
//! * **Strings.** Single quotes doubled; backslashes are literal (PostgreSQL with
//!   `standard_conforming_strings = on`, the default since 9.1). Wildcards use `LIKE` with
//!   `ESCAPE '\'`, escaping `%`, `_` and `\` in the value.
//! * **Case-insensitive matching.** Athena and PostgreSQL: `LOWER(col) = 'value'` /
//!   `LOWER(col) LIKE '...'` with the literal lower-cased at compile time. In PostgreSQL this
//!   is index-friendly with an expression index on `LOWER(col)` (`text_pattern_ops` for
//!   prefix `LIKE`); `ILIKE` is not (it needs a trigram index). SQLite: `col LIKE '...'`,
//!   which is case-insensitive for ASCII and uses an index declared `COLLATE NOCASE`
//!   (SQLite's LIKE and LOWER fold ASCII letters only: non-ASCII letters match exactly).
//!   Case-sensitive: `=` / `LIKE` (Athena, PostgreSQL), `GLOB` with `[*]`/`[?]`/`[[]`
//!   escapes (SQLite).
//! * **Regular expressions** (unanchored search, flags i/m/s): Athena `regexp_like(col,
//!   '(?flags)re')`; PostgreSQL `col ~ '(?opts)re'` with the ARE embedded options chosen so
//!   that `.`/`^`/`$` behave as in Rust's `regex` (`p` by default, `n` for m, none for s, `w`
//!   for ms, plus `i`) and `\b`/`\B`/`\z` rewritten to `\y`/`\Y`/`\Z`; constructs PostgreSQL
//!   lacks (`\p{..}`, inline flags after the start) are reported. SQLite: `col REGEXP
//!   '(?flags)re'`, which needs an application-defined `regexp(pattern, value)` function
//!   (SQLite ships none); the tests register one built on Rust's `regex` crate with
//!   rusqlite, which gives exactly the matcher's semantics.
//! * **CIDR.** Athena `contains('10.0.0.0/8', TRY_CAST(col AS IPADDRESS))` (TRY_CAST:
//!   non-IP text is NULL, not an error). PostgreSQL `CASE WHEN col ~ '<strict IPv4|IPv6
//!   regex>' THEN CAST(col AS inet) <<= inet '10.0.0.0/8' END`: the cast only sees text
//!   that is an address, so non-IP values never raise. SQLite has no IP type: a clear
//!   "unsupported" error (expand the network to prefixes in a pipeline instead).
//! * **Numbers** compare as numbers, never failing on non-numeric text: Athena
//!   `TRY_CAST(col AS DOUBLE)`; PostgreSQL a regex guard then `CAST(col AS numeric)`;
//!   SQLite `CASE WHEN json_valid(col) AND json_type(col) IN ('integer','real') THEN
//!   CAST(col AS REAL) END` (JSON number syntax: `+5`, `.5`, `05` are not numbers there).
//! * **Timestamp parts** (UTC): Athena `TRY(hour(from_iso8601_timestamp(col) AT TIME ZONE
//!   'UTC'))`; PostgreSQL `EXTRACT(HOUR FROM CAST(col AS timestamptz) AT TIME ZONE 'UTC')`
//!   behind an ISO-8601 shape guard; SQLite `CAST(strftime('%H', col) AS INTEGER)` (`%V`,
//!   the ISO week, for `week`). `day` is the day of the month, `week` the ISO week.
//! * **Keywords** (full-text): `json` layout only. PostgreSQL walks every string of the
//!   document (`jsonb_path_query(doc, 'strict $.**')`), SQLite every text atom
//!   (`json_tree(doc)`), both exact. Athena has no recursive JSON walk: the pattern (JSON
//!   string escaped) is searched in the document text with `LIKE`, which can also match
//!   object keys (documented approximation). `flat` and `cloudtrail`: unsupported error.
//! * **Arrays**: a flat column holds one scalar; a JSON array value is compared as its
//!   JSON text (SQL does not expand arrays per element).

mod cloudtrail;
pub mod correlation;
mod expr;
mod regex_pg;

use std::collections::BTreeMap;

use sigil_core::backend::{Backend, BackendOptions, ConvertError};
use sigil_core::collection::{CorrelationIr, Lowered};
use sigil_core::ir::{Expr, RuleIr};

pub use cloudtrail::{athena_ddl, duckdb_columns as cloudtrail_duckdb_columns, CLOUDTRAIL_TABLE};

/// The SQL engine a query is written for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// AWS Athena (engine v3, Trino SQL).
    Athena,
    /// PostgreSQL 11 or newer.
    Postgres,
    /// SQLite 3.46 or newer (JSON functions built in, `%V` in `strftime`).
    Sqlite,
}

impl Dialect {
    /// The target name (`-t`).
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Athena => "athena",
            Dialect::Postgres => "postgres",
            Dialect::Sqlite => "sqlite",
        }
    }

    /// Parses a target name.
    pub fn from_name(name: &str) -> Option<Dialect> {
        match name {
            "athena" | "trino" => Some(Dialect::Athena),
            "postgres" | "postgresql" => Some(Dialect::Postgres),
            "sqlite" => Some(Dialect::Sqlite),
            _ => None,
        }
    }
}

/// How events are stored in the table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Layout {
    /// One text column per field, named exactly like the field (`"userIdentity.arn"`).
    Flat,
    /// One JSON document per row in `column` (PostgreSQL `jsonb`, SQLite `TEXT`, Athena
    /// `VARCHAR`/`JSON` holding the document); dotted field names are paths (a literal key
    /// containing the dots is tried first).
    Json { column: String },
    /// The AWS Athena CloudTrail table ([`athena_ddl`]): lower-case columns, `useridentity`
    /// and friends are ROWs, `requestparameters` & co. are JSON strings.
    CloudTrail,
}

/// What a rule converts to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    /// `SELECT <select> FROM <table> WHERE <condition>`.
    Query,
    /// The bare condition.
    Condition,
}

/// The SQL backend.
#[derive(Clone, Debug)]
pub struct SqlBackend {
    pub dialect: Dialect,
    pub layout: Layout,
    /// Table name as given (quoted on output).
    pub table: String,
    pub output: Output,
    /// Select list of rule queries (raw SQL).
    pub select: String,
    /// Field holding the event time, for correlations.
    pub timestamp: String,
}

const KEYS: &[&str] = &["layout", "json_column", "output", "select", "timestamp"];

impl SqlBackend {
    /// A backend with the default options.
    pub fn new(dialect: Dialect) -> SqlBackend {
        SqlBackend {
            dialect,
            layout: Layout::Flat,
            table: "events".into(),
            output: Output::Query,
            select: "*".into(),
            timestamp: "timestamp".into(),
        }
    }

    /// A backend from command-line options; unknown keys or values are errors.
    pub fn from_options(dialect: Dialect, opts: &BackendOptions) -> Result<SqlBackend, String> {
        let o: &BTreeMap<String, String> = &opts.options;
        if let Some(k) = o.keys().find(|k| !KEYS.contains(&k.as_str())) {
            return Err(format!(
                "unknown option '{k}' for target {}; options: {}",
                dialect.name(),
                KEYS.join(", ")
            ));
        }
        let mut b = SqlBackend::new(dialect);
        match o.get("layout").map(String::as_str) {
            None | Some("flat") => {}
            Some("json") => {
                b.layout = Layout::Json {
                    column: o
                        .get("json_column")
                        .cloned()
                        .unwrap_or_else(|| "doc".into()),
                }
            }
            Some("cloudtrail") => {
                if dialect != Dialect::Athena {
                    return Err(format!(
                        "layout=cloudtrail is the AWS Athena CloudTrail table; it is not available for target {}",
                        dialect.name()
                    ));
                }
                b.layout = Layout::CloudTrail;
                b.table = CLOUDTRAIL_TABLE.into();
                b.timestamp = "eventTime".into();
            }
            Some(other) => {
                return Err(format!(
                    "unknown layout '{other}'; layouts: flat, json, cloudtrail"
                ))
            }
        }
        if o.contains_key("json_column") && !matches!(b.layout, Layout::Json { .. }) {
            return Err("option json_column needs layout=json".into());
        }
        match o.get("output").map(String::as_str) {
            None | Some("query") => {}
            Some("condition") => b.output = Output::Condition,
            Some(other) => {
                return Err(format!(
                    "unknown output '{other}'; outputs: query, condition"
                ))
            }
        }
        if let Some(s) = o.get("select") {
            if s.trim().is_empty() {
                return Err("option select must not be empty".into());
            }
            b.select = s.clone();
        }
        if let Some(t) = o.get("timestamp") {
            if t.is_empty() {
                return Err("option timestamp must not be empty".into());
            }
            b.timestamp = t.clone();
        }
        if let Some(t) = &opts.table {
            if t.is_empty() || t.split('.').any(str::is_empty) {
                return Err(format!("invalid table name '{t}'"));
            }
            b.table = t.clone();
        }
        Ok(b)
    }

    /// Builder: the layout.
    pub fn with_layout(mut self, layout: Layout) -> Self {
        if layout == Layout::CloudTrail {
            self.table = CLOUDTRAIL_TABLE.into();
            self.timestamp = "eventTime".into();
        }
        self.layout = layout;
        self
    }

    /// Builder: the table name.
    pub fn with_table(mut self, table: &str) -> Self {
        self.table = table.into();
        self
    }

    /// Builder: the output form.
    pub fn with_output(mut self, output: Output) -> Self {
        self.output = output;
        self
    }

    /// The table name, quoted (each dotted part separately).
    pub fn quoted_table(&self) -> String {
        self.table
            .split('.')
            .map(quote_ident)
            .collect::<Vec<_>>()
            .join(".")
    }

    /// The SQL condition for one IR expression.
    pub fn condition(&self, e: &Expr) -> Result<String, String> {
        expr::Renderer::new(self).expr(e, false)
    }

    /// The query (or bare condition, per [`Output`]) for one IR expression.
    pub fn query(&self, e: &Expr) -> Result<String, String> {
        let cond = self.condition(e)?;
        Ok(match self.output {
            Output::Condition => cond,
            Output::Query => format!(
                "SELECT {} FROM {} WHERE {cond}",
                self.select,
                self.quoted_table()
            ),
        })
    }
}

impl Backend for SqlBackend {
    fn name(&self) -> &'static str {
        self.dialect.name()
    }

    fn convert_rule(&self, rule: &RuleIr) -> Result<Vec<String>, ConvertError> {
        rule.conditions
            .iter()
            .map(|c| self.query(c).map_err(|m| classify(&rule.meta, m)))
            .collect()
    }

    fn convert_correlation(
        &self,
        corr: &CorrelationIr,
        set: &Lowered,
    ) -> Result<Vec<String>, ConvertError> {
        correlation::convert(self, corr, set).map(|q| vec![q])
    }
}

/// Messages starting with `unsupported:` are constructs the target cannot express.
pub(crate) const UNSUPPORTED: &str = "unsupported: ";

pub(crate) fn classify(meta: &sigil_core::RuleMeta, m: String) -> ConvertError {
    match m.strip_prefix(UNSUPPORTED) {
        Some(rest) => ConvertError::unsupported(meta, rest),
        None => ConvertError::error(meta, m),
    }
}

/// Double-quoted SQL identifier (all three engines).
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Single-quoted SQL string literal: quotes doubled, everything else literal.
pub fn quote_str(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Every field name the expression reads (sorted, unique): the columns a flat table needs.
pub fn referenced_fields(e: &Expr) -> Vec<String> {
    let mut out = std::collections::BTreeSet::new();
    e.for_each_pred(&mut |p| {
        if let sigil_core::Pred::FieldRef { field, other, .. } = p {
            out.insert(field.clone());
            out.insert(other.clone());
        } else if let Some(f) = p.field() {
            out.insert(f.to_string());
        }
    });
    out.into_iter().collect()
}
