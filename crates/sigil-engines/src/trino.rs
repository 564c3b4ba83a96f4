//! Athena (Trino) SQL check: parse with sqlglot's `athena` dialect, transpile to DuckDB
//! and execute over a table built from JSON events.
//!
//! Runs `python/trino_check.py` in one long-lived Python process. The interpreter is
//! `$SIGIL_PYTHON`, else `/opt/sigil-venv/bin/python3`, else
//! `$HOME/.cache/sigil-venv/bin/python3`, else `python3` on `PATH`; the first one that
//! can import `sqlglot`, `duckdb` (and `numpy`, which DuckDB's Python UDFs need) is
//! used. `scripts/install-engines.sh` creates `/opt/sigil-venv` with the tested
//! versions: sqlglot 30.30.0, duckdb 2.0.1, numpy 2.4.6.
//!
//! Each query goes through three stages ([`TrinoStage`]): `parse_one(q, read="athena")`
//! (which must yield a query: sqlglot is lenient, `SELEC x` parses as an alias and is
//! rejected here), transpilation to DuckDB, execution. The DuckDB session runs with
//! `TimeZone = 'UTC'`.
//!
//! # Findings (sqlglot 30.30.0 → DuckDB 2.0.1)
//!
//! Parse, transpile and run with Trino's results:
//! * `regexp_like(col, 're')` → `REGEXP_MATCHES(col, 're')` (both are "find" semantics,
//!   not full match; DuckDB uses RE2, Trino Joni/RE2J: `(?i)` works in both; avoid
//!   look-around and back-references, which RE2 lacks);
//! * `LOWER(col) LIKE '%x\%%' ESCAPE '\'` → unchanged; without `ESCAPE` a backslash is a
//!   literal character in both engines;
//! * `json_extract_scalar(col, '$.a.b')` → `(col ->> '$.a.b')` (on a VARCHAR/JSON column);
//!   `json_extract(col, '$.a')` → `(col -> '$.a')`;
//! * `CAST(x AS DOUBLE)` (errors on non-numeric text in both engines), `TRY_CAST(x AS DOUBLE)`;
//! * `from_iso8601_timestamp(s)` → `CAST(s AS TIMESTAMPTZ)`;
//! * `hour(ts)` → `HOUR(..)`, `day_of_week(ts)` → `ISODOW(..)` (1 = Monday, as Trino),
//!   `week(ts)` → `WEEKOFYEAR(..)` (ISO week, as Trino);
//! * `strpos`, `starts_with`, `lower`, `IN`, `IS [NOT] NULL`, quoted identifiers
//!   (`"userIdentity.arn"`), lambdas (`any_match`, `filter`, `cardinality`).
//!
//! Caveat: DuckDB converts `TIMESTAMPTZ` to the session zone (UTC) while Trino keeps the
//! zone of the ISO string: `hour(from_iso8601_timestamp('2024-01-07T23:00:00+02:00'))` is
//! 23 in Trino but 21 here. Identical for `Z`/UTC timestamps.
//!
//! Do **not** run on DuckDB after a plain transpile:
//! * `CAST(x AS IPADDRESS)` / `TRY_CAST(x AS IPADDRESS)`: DuckDB has no `IPADDRESS` type
//!   ("Catalog Error: Type with name IPADDRESS does not exist!");
//! * `contains('10.0.0.0/8', CAST(x AS IPADDRESS))`: transpiled to
//!   `ARRAY_CONTAINS('10.0.0.0/8', CAST(x AS IPADDRESS))`, which fails for the same reason;
//! * `is_subnet_of(IPPREFIX '10.0.0.0/8', CAST(x AS IPADDRESS))`: no such function/type
//!   in DuckDB (not emulated: the SQL backend should use `contains`).
//!
//! Emulated here, by rewriting sqlglot's tree before generating DuckDB SQL (each rewrite
//! is listed in [`TrinoOutcome::emulated`]), with Python UDFs built on `ipaddress`:
//! * `contains(<string literal CIDR>, <CAST/TRY_CAST(x AS IPADDRESS)>)` →
//!   `sigil_cidr_contains(cidr, ip)`: IPv4 and IPv6, IPv4-mapped IPv6 addresses compare
//!   as IPv4, a version mismatch is `false`, NULL in → NULL out;
//! * `CAST(x AS IPADDRESS)` → `sigil_ipaddress(CAST(x AS VARCHAR))`: canonical text; an
//!   invalid address is an execution error, as in Trino (so a backend must use
//!   `TRY_CAST` on columns that may hold non-IP text);
//! * `TRY_CAST(x AS IPADDRESS)` → `sigil_try_ipaddress(..)`: canonical text or NULL.

use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use crate::proc::{cache_root, find_in_path, fnv64, is_executable, unique_suffix};
use crate::{unavailable, Column};

const ENGINE: &str = "Trino check (python3 + sqlglot + duckdb)";
const SCRIPT: &str = include_str!("../python/trino_check.py");

/// Where a query failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrinoStage {
    /// `sqlglot.parse_one(q, read="athena")` failed or did not yield a query.
    Parse,
    /// Generating DuckDB SQL failed.
    Transpile,
    /// DuckDB rejected or failed to run the transpiled SQL.
    Execute,
}

/// Full outcome of one query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrinoOutcome {
    /// Sorted `id`s of the matching rows, or the error message.
    pub result: Result<Vec<i64>, String>,
    /// Stage of the failure (`None` on success).
    pub failed_stage: Option<TrinoStage>,
    /// DuckDB SQL that was run (when transpilation succeeded).
    pub duckdb_sql: Option<String>,
    /// Trino constructs that were emulated (see the module docs).
    pub emulated: Vec<String>,
}

/// A running sqlglot + DuckDB checker (one Python process).
pub struct TrinoCheck {
    child: Child,
    stdin: Option<BufWriter<ChildStdin>>,
    stdout: BufReader<ChildStdout>,
    versions: String,
    python: PathBuf,
}

impl std::fmt::Debug for TrinoCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrinoCheck")
            .field("python", &self.python)
            .field("versions", &self.versions)
            .finish()
    }
}

impl TrinoCheck {
    /// Starts the checker. `Ok(None)` (with a `SKIPPED` message) when no Python with
    /// sqlglot and duckdb is found, unless `SIGIL_REQUIRE_ENGINES=1`.
    pub fn start() -> Result<Option<TrinoCheck>> {
        let script = write_script()?;
        let mut reasons = Vec::new();
        for python in candidates() {
            let mut child = match Command::new(&python)
                .arg("-u")
                .arg(&script)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
            {
                Ok(c) => c,
                Err(e) => {
                    reasons.push(format!("{}: {e}", python.display()));
                    continue;
                }
            };
            let stdin = child.stdin.take().context("python stdin")?;
            let stdout = child.stdout.take().context("python stdout")?;
            let mut check = TrinoCheck {
                child,
                stdin: Some(BufWriter::new(stdin)),
                stdout: BufReader::new(stdout),
                versions: String::new(),
                python: python.clone(),
            };
            let line = check.read_line().unwrap_or_else(|e| format!("{e:#}"));
            if let Some(v) = line.strip_prefix("READY\t") {
                check.versions = v.to_string();
                return Ok(Some(check));
            }
            let reason = line.strip_prefix("UNAVAILABLE\t").unwrap_or(&line);
            reasons.push(format!("{}: {reason}", python.display()));
        }
        if reasons.is_empty() {
            reasons.push("no python3 found".into());
        }
        unavailable(
            ENGINE,
            format!(
                "{} (run scripts/install-engines.sh or set SIGIL_PYTHON)",
                reasons.join("; ")
            ),
        )
    }

    /// `sqlglot=<v> duckdb=<v>`.
    pub fn versions(&self) -> &str {
        &self.versions
    }

    /// Builds `table` from `events` in a fresh DuckDB database and runs each query.
    ///
    /// `columns[i].sql_type` is a DuckDB type (`VARCHAR`, `BIGINT`, `DOUBLE`, `BOOLEAN`,
    /// `JSON`, ...); the value comes from the column's `source` path (objects/arrays as
    /// JSON text, missing as NULL). Unless a column is named `id`, an `id BIGINT` column
    /// holding the event index comes first. Every query must return an `id` column.
    pub fn run<Q: AsRef<str>>(
        &mut self,
        table: &str,
        columns: &[Column],
        events: &[Value],
        queries: &[Q],
    ) -> Result<Vec<Result<Vec<i64>, String>>> {
        Ok(self
            .run_detailed(table, columns, events, queries)?
            .into_iter()
            .map(|o| o.result)
            .collect())
    }

    /// Like [`TrinoCheck::run`] with the failing stage, the DuckDB SQL and the emulations.
    pub fn run_detailed<Q: AsRef<str>>(
        &mut self,
        table: &str,
        columns: &[Column],
        events: &[Value],
        queries: &[Q],
    ) -> Result<Vec<TrinoOutcome>> {
        let req = json!({
            "table": table,
            "columns": columns.iter().map(|c| json!({
                "name": c.name, "type": c.sql_type, "source": c.source()
            })).collect::<Vec<_>>(),
            "events": events,
            "queries": queries.iter().map(|q| q.as_ref()).collect::<Vec<_>>(),
        });
        let stdin = self.stdin.as_mut().context("python stdin closed")?;
        serde_json::to_writer(&mut *stdin, &req).context("sending a batch to python")?;
        stdin
            .write_all(b"\n")
            .and_then(|()| stdin.flush())
            .context("sending a batch to python")?;
        let line = self.read_line()?;
        let resp: Value = serde_json::from_str(&line)
            .with_context(|| format!("bad answer from trino_check.py: {line}"))?;
        if let Some(fatal) = resp.get("fatal") {
            bail!(
                "trino check batch failed: {}",
                fatal.as_str().unwrap_or_default()
            );
        }
        let results = resp
            .get("results")
            .and_then(Value::as_array)
            .with_context(|| format!("no results in {line}"))?;
        if results.len() != queries.len() {
            bail!("{} results for {} queries", results.len(), queries.len());
        }
        results.iter().map(parse_outcome).collect()
    }

    fn read_line(&mut self) -> Result<String> {
        let mut line = String::new();
        let n = self
            .stdout
            .read_line(&mut line)
            .context("reading from trino_check.py")?;
        if n == 0 {
            let status = self.child.try_wait().ok().flatten();
            bail!("trino_check.py exited unexpectedly (status {status:?}); see stderr above");
        }
        Ok(line.trim_end_matches(['\n', '\r']).to_string())
    }
}

fn parse_outcome(r: &Value) -> Result<TrinoOutcome> {
    let sql = r.get("sql").and_then(Value::as_str).map(str::to_string);
    let emulated = r
        .get("emulated")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    if let Some(ok) = r.get("ok").and_then(Value::as_array) {
        let ids = ok
            .iter()
            .map(|v| v.as_i64().with_context(|| format!("bad id {v}")))
            .collect::<Result<Vec<_>>>()?;
        return Ok(TrinoOutcome {
            result: Ok(ids),
            failed_stage: None,
            duckdb_sql: sql,
            emulated,
        });
    }
    let stage = match r.get("stage").and_then(Value::as_str) {
        Some("parse") => TrinoStage::Parse,
        Some("transpile") => TrinoStage::Transpile,
        _ => TrinoStage::Execute,
    };
    let err = r
        .get("err")
        .and_then(Value::as_str)
        .unwrap_or("unknown error");
    let stage_name = match stage {
        TrinoStage::Parse => "athena parse",
        TrinoStage::Transpile => "transpile to duckdb",
        TrinoStage::Execute => "duckdb execute",
    };
    let msg = match &sql {
        Some(s) => format!("{stage_name}: {err}\n  duckdb sql: {s}"),
        None => format!("{stage_name}: {err}"),
    };
    Ok(TrinoOutcome {
        result: Err(msg),
        failed_stage: Some(stage),
        duckdb_sql: sql,
        emulated,
    })
}

impl Drop for TrinoCheck {
    fn drop(&mut self) {
        drop(self.stdin.take());
        for _ in 0..50 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn candidates() -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(p) = std::env::var_os("SIGIL_PYTHON") {
        out.push(PathBuf::from(p));
        return out;
    }
    let mut venvs = vec![PathBuf::from("/opt/sigil-venv")];
    if let Some(home) = std::env::var_os("HOME") {
        venvs.push(PathBuf::from(home).join(".cache/sigil-venv"));
    }
    for v in venvs {
        let py = v.join("bin/python3");
        if is_executable(&py) {
            out.push(py);
        }
    }
    out.extend(find_in_path("python3"));
    out
}

fn write_script() -> Result<PathBuf> {
    let root = cache_root();
    std::fs::create_dir_all(&root).with_context(|| format!("creating {}", root.display()))?;
    let hash = fnv64(&[SCRIPT.as_bytes()]);
    let path = root.join(format!("trino_check-{hash:016x}.py"));
    if !path.is_file() {
        let tmp = root.join(format!(
            "trino_check-{hash:016x}.py.tmp-{}",
            unique_suffix()
        ));
        std::fs::write(&tmp, SCRIPT).with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, &path).with_context(|| format!("publishing {}", path.display()))?;
    }
    Ok(path)
}
