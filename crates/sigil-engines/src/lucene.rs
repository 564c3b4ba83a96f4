//! Apache Lucene 8 (Debian `liblucene8-java`) behind a long-lived `java` process.
//!
//! # Index model: Elasticsearch `keyword` fields
//!
//! Each JSON event (an object) is flattened to dotted paths (`userIdentity.arn`);
//! arrays give multi-valued fields (arrays of objects are flattened like ES
//! `object` arrays). Every non-null scalar is indexed as exactly one untokenized
//! term (KeywordTokenizer) holding its text: strings as is, numbers as their JSON
//! text, booleans as `true`/`false`; `null` is not indexed. On top of that:
//!
//! * numbers are **also** indexed as `DoublePoint`s. A path that holds a JSON number
//!   in at least one event of the batch is a *numeric field*: on it, ranges with
//!   numeric bounds (`f:[1 TO 5]`, `f:{1 TO *]`, `f:>5`, `f:>=5`, `f:<5`, `f:<=5`) are
//!   numeric point ranges and a numeric term `f:5` also matches `5.0`; strings that
//!   parse as numbers in a numeric field are coerced into points too (ES `coerce`).
//!   Ranges on other fields are term (lexicographic) ranges, as on ES keywords.
//! * `_exists_` holds every path with a non-null value at or below it, including
//!   intermediate object paths and every dotted prefix of a key, so
//!   `_exists_:userIdentity` and `_exists_:userIdentity.arn` work like ES.
//!   `field:*` is rewritten to the same exists query (as ES does); `*:*` matches all.
//! * a catch-all field receives every scalar value; it is the parser's default
//!   field, so unbound terms search all fields (ES `default_field: *`). `*:term`
//!   also targets it. Unbound numeric ranges are lexicographic there.
//!
//! # Query parsing
//!
//! Lucene's classic `QueryParser` (the parser ES' `query_string` extends), with
//! `allowLeadingWildcard = true`, default operator `OR`, `splitOnWhitespace = true`,
//! plus the ES additions above and ES' fix for purely negative boolean queries
//! (`NOT a`, `(NOT a) AND b`): such a group also matches every document that is not
//! excluded. Escapes (`\:` `\/` `\ ` `\*` ...) are the QueryParser's. The maximum
//! boolean clause count is raised to 65536 (override with
//! `SIGIL_LUCENE_MAX_CLAUSES`), because the harness tests semantics, not limits.
//! Not emulated: ES' `ignore_above: 256` of dynamic keyword mappings, date fields,
//! ES rejecting wildcard/regexp queries on numeric fields (here they run on the text).
//!
//! # Index modes and lower-case normalization (verified on Lucene 8.8.1)
//!
//! * [`IndexMode::Exact`]: `KeywordAnalyzer`; terms and patterns are used as written.
//! * [`IndexMode::Lowercase`]: an ES keyword field with a `lowercase` normalizer. Values
//!   are indexed through KeywordTokenizer + LowerCaseFilter, and the analyzer's
//!   `normalize()` applies LowerCaseFilter, which Lucene 8.8's `QueryParserBase` calls
//!   for every multi-term query:
//!   - term and phrase queries (`f:FooBar`, `f:"Foo Bar"`): analyzed → lower-cased;
//!   - prefix `f:Foo*`: escapes removed, then the whole prefix is normalized → `foo*`;
//!   - wildcard `f:F?o*Bar`: the text between wildcards is normalized chunk by chunk,
//!     `*`/`?` are kept, and **escaped characters are kept verbatim, not lower-cased**
//!     (`f:\F*` stays `\F*`, which can never match the lower-cased index). ES'
//!     `normalizeWildcardPattern` for keyword fields does the same;
//!   - regexp `f:/[A-Z]oo.*/`: the **whole regexp text** is normalized → `/[a-z]oo.*/`
//!     (so `\W`→`\w`, `\S`→`\s`, `[A-Z]`→`[a-z]` change meaning). ES 7.x/8.x normalizes
//!     regexps on normalized keyword fields too (elastic/elasticsearch#80189), so this
//!     is kept as the ES-compatible behaviour;
//!   - ranges: both bounds normalized (term ranges); fuzzy: normalized.
//!   - `_exists_:Path` and field names are never lower-cased.
//!
//! # Protocol
//!
//! The Rust side flattens events and sends them with the queries as a line batch; the
//! Java side (`java/SigilLucene.java`, compiled with `javac` into a cache directory
//! keyed by a hash of the source and class path) indexes them in a
//! `ByteBuffersDirectory` and answers one line per query. One JVM serves any number
//! of batches.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Mutex;

use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;

use crate::proc::{
    cache_root, escape_field, find_in_path, fnv64, is_executable, unescape_field, unique_suffix,
};
use crate::unavailable;

const ENGINE: &str = "Lucene";
const JAVA_SOURCE: &str = include_str!("../java/SigilLucene.java");
/// Jars needed on the class path (file name stems under `/usr/share/java`).
const JARS: &[&str] = &[
    "lucene-core",
    "lucene-queryparser",
    "lucene-analyzers-common",
];

/// How values are indexed and query terms normalized.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IndexMode {
    /// Values as is (ES `keyword`).
    Exact,
    /// Values and query terms lower-cased (ES `keyword` with a `lowercase` normalizer).
    Lowercase,
}

impl IndexMode {
    fn as_str(self) -> &'static str {
        match self {
            IndexMode::Exact => "exact",
            IndexMode::Lowercase => "lowercase",
        }
    }
}

/// One query's outcome with the parsed Lucene query, for debugging.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LuceneHit {
    /// Indices of the matching events, sorted.
    pub matches: Vec<usize>,
    /// `Query.toString()` of what the parser built (the catch-all field shows as `\u{1}all`).
    pub parsed: String,
}

/// A running Lucene query server (one `java` process).
pub struct LuceneEngine {
    child: Child,
    stdin: Option<BufWriter<ChildStdin>>,
    stdout: BufReader<ChildStdout>,
    version: String,
}

impl std::fmt::Debug for LuceneEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LuceneEngine")
            .field("pid", &self.child.id())
            .field("version", &self.version)
            .finish()
    }
}

static SHARED: Mutex<Option<LuceneEngine>> = Mutex::new(None);

impl LuceneEngine {
    /// Compiles (if needed) and starts the Lucene server. `Ok(None)` when Java or the
    /// Lucene jars are missing (see the crate docs for `SIGIL_REQUIRE_ENGINES`).
    ///
    /// Locations can be overridden with `SIGIL_JAVA_HOME` / `JAVA_HOME` (for `java`,
    /// `javac`) and `SIGIL_LUCENE_CLASSPATH` (colon-separated jars) or
    /// `SIGIL_LUCENE_DIR` (directory with the `lucene-*.jar` files).
    pub fn start() -> Result<Option<LuceneEngine>> {
        let (java, javac) = match find_java() {
            Ok(v) => v,
            Err(reason) => return unavailable(ENGINE, reason),
        };
        let classpath = match find_jars() {
            Ok(v) => v,
            Err(reason) => return unavailable(ENGINE, reason),
        };
        let classes = compile(&javac, &classpath)?;
        let mut cp = classes.display().to_string();
        for jar in &classpath {
            cp.push(':');
            cp.push_str(&jar.display().to_string());
        }
        let mut child = Command::new(&java)
            .args(["-XX:+UseSerialGC", "-Xss8m", "-cp", &cp, "SigilLucene"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("starting {}", java.display()))?;
        let stdin = child.stdin.take().context("java stdin")?;
        let stdout = child.stdout.take().context("java stdout")?;
        let mut engine = LuceneEngine {
            child,
            stdin: Some(BufWriter::with_capacity(1 << 16, stdin)),
            stdout: BufReader::with_capacity(1 << 16, stdout),
            version: String::new(),
        };
        let line = engine.read_line()?;
        match line.strip_prefix("READY\t") {
            Some(v) => engine.version = v.to_string(),
            None => bail!("Lucene server did not start: {line:?}"),
        }
        Ok(Some(engine))
    }

    /// Runs `f` on a process-wide engine, started on first use (and restarted if it
    /// died). `Ok(None)` when Lucene is not available (skip).
    pub fn with_shared<R>(f: impl FnOnce(&mut LuceneEngine) -> R) -> Result<Option<R>> {
        let mut guard = SHARED.lock().unwrap_or_else(|p| p.into_inner());
        let alive = match guard.as_mut() {
            Some(e) => e.child.try_wait().map(|s| s.is_none()).unwrap_or(false),
            None => false,
        };
        if !alive {
            *guard = None;
            match LuceneEngine::start()? {
                Some(e) => *guard = Some(e),
                None => return Ok(None),
            }
        }
        let engine = guard.as_mut().context("shared Lucene engine")?;
        Ok(Some(f(engine)))
    }

    /// Lucene version reported by the server (`8.8.1` with Debian's package).
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Indexes `events` (JSON objects) and runs every query on them. For each query:
    /// `Ok(sorted indices of matching events)` or `Err(parse/search error message)`.
    pub fn run<Q: AsRef<str>>(
        &mut self,
        events: &[Value],
        queries: &[Q],
        mode: IndexMode,
    ) -> Result<Vec<Result<Vec<usize>, String>>> {
        Ok(self
            .run_detailed(events, queries, mode)?
            .into_iter()
            .map(|r| r.map(|h| h.matches))
            .collect())
    }

    /// Like [`LuceneEngine::run`], also returning the parsed query text.
    pub fn run_detailed<Q: AsRef<str>>(
        &mut self,
        events: &[Value],
        queries: &[Q],
        mode: IndexMode,
    ) -> Result<Vec<Result<LuceneHit, String>>> {
        let mut req = String::with_capacity(4096);
        for (i, ev) in events.iter().enumerate() {
            req.push_str("D\n");
            flatten_event(ev, &mut req).with_context(|| format!("event #{i}"))?;
        }
        for q in queries {
            req.push_str("Q\t");
            escape_field(q.as_ref(), &mut req);
            req.push('\n');
        }
        req.push_str("RUN\t");
        req.push_str(mode.as_str());
        req.push('\n');
        let stdin = self.stdin.as_mut().context("Lucene server stdin closed")?;
        stdin
            .write_all(req.as_bytes())
            .and_then(|()| stdin.flush())
            .context("sending a batch to the Lucene server")?;

        let mut out = Vec::with_capacity(queries.len());
        loop {
            let line = self.read_line()?;
            if line == "END" {
                break;
            }
            if let Some(msg) = line.strip_prefix("FATAL\t") {
                let msg = unescape_field(msg);
                // drain up to END so that the engine stays usable
                while self.read_line()? != "END" {}
                bail!("Lucene batch failed: {msg}");
            } else if let Some(err) = line.strip_prefix("ERR\t") {
                out.push(Err(unescape_field(err)));
            } else if let Some(ok) = line.strip_prefix("OK\t") {
                let (ids, parsed) = ok.split_once('\t').unwrap_or((ok, ""));
                let matches = ids
                    .split_ascii_whitespace()
                    .map(|s| s.parse::<usize>())
                    .collect::<Result<Vec<_>, _>>()
                    .with_context(|| format!("bad Lucene answer {line:?}"))?;
                out.push(Ok(LuceneHit {
                    matches,
                    parsed: unescape_field(parsed),
                }));
            } else {
                bail!("unexpected line from the Lucene server: {line:?}");
            }
        }
        if out.len() != queries.len() {
            bail!(
                "Lucene server answered {} results for {} queries",
                out.len(),
                queries.len()
            );
        }
        Ok(out)
    }

    fn read_line(&mut self) -> Result<String> {
        let mut line = String::new();
        let n = self
            .stdout
            .read_line(&mut line)
            .context("reading from the Lucene server")?;
        if n == 0 {
            let status = self.child.try_wait().ok().flatten();
            bail!("Lucene server exited unexpectedly (status {status:?}); see its stderr above");
        }
        while line.ends_with('\n') || line.ends_with('\r') {
            line.pop();
        }
        Ok(line)
    }
}

impl Drop for LuceneEngine {
    fn drop(&mut self) {
        // closing stdin makes the server exit
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

fn find_java() -> Result<(PathBuf, PathBuf), String> {
    for var in ["SIGIL_JAVA_HOME", "JAVA_HOME"] {
        if let Some(home) = std::env::var_os(var) {
            let bin = PathBuf::from(home).join("bin");
            let (java, javac) = (bin.join("java"), bin.join("javac"));
            if is_executable(&java) && is_executable(&javac) {
                return Ok((java, javac));
            }
        }
    }
    let java = find_in_path("java").ok_or("no `java` on PATH (install a JDK >= 11)")?;
    let javac = find_in_path("javac").ok_or("no `javac` on PATH (install a JDK >= 11)")?;
    Ok((java, javac))
}

fn find_jars() -> Result<Vec<PathBuf>, String> {
    if let Ok(cp) = std::env::var("SIGIL_LUCENE_CLASSPATH") {
        let jars: Vec<PathBuf> = cp
            .split(':')
            .filter(|s| !s.is_empty())
            .map(PathBuf::from)
            .collect();
        if let Some(missing) = jars.iter().find(|j| !j.is_file()) {
            return Err(format!(
                "SIGIL_LUCENE_CLASSPATH: {} not found",
                missing.display()
            ));
        }
        return Ok(jars);
    }
    let dir = std::env::var_os("SIGIL_LUCENE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/share/java"));
    JARS.iter().map(|stem| find_jar(&dir, stem)).collect()
}

/// `<dir>/<stem>.jar`, else the last (by name) `<dir>/<stem>-<version>.jar`.
fn find_jar(dir: &Path, stem: &str) -> Result<PathBuf, String> {
    let plain = dir.join(format!("{stem}.jar"));
    if plain.is_file() {
        return Ok(plain);
    }
    let entries = std::fs::read_dir(dir).map_err(|e| {
        format!(
            "cannot list {} ({e}); run scripts/install-engines.sh (apt-get install liblucene8-java)",
            dir.display()
        )
    })?;
    let prefix = format!("{stem}-");
    let mut found: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                n.starts_with(&prefix)
                    && n.ends_with(".jar")
                    && n[prefix.len()..].starts_with(|c: char| c.is_ascii_digit())
            })
        })
        .collect();
    found.sort();
    found.pop().ok_or_else(|| {
        format!(
            "{stem}*.jar not found in {}; run scripts/install-engines.sh (apt-get install liblucene8-java)",
            dir.display()
        )
    })
}

/// Compiles `SigilLucene.java` once per (source, class path) into the cache.
fn compile(javac: &Path, classpath: &[PathBuf]) -> Result<PathBuf> {
    let cp = classpath
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(":");
    let hash = fnv64(&[JAVA_SOURCE.as_bytes(), cp.as_bytes()]);
    let root = cache_root();
    let dir = root.join(format!("lucene-{hash:016x}"));
    if dir.join("SigilLucene.class").is_file() {
        return Ok(dir);
    }
    std::fs::create_dir_all(&root).with_context(|| format!("creating {}", root.display()))?;
    let tmp = root.join(format!("lucene-{hash:016x}.tmp-{}", unique_suffix()));
    std::fs::create_dir_all(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    let src = tmp.join("SigilLucene.java");
    std::fs::write(&src, JAVA_SOURCE).with_context(|| format!("writing {}", src.display()))?;
    let out = Command::new(javac)
        .arg("-nowarn")
        .arg("-encoding")
        .arg("UTF-8")
        .arg("-cp")
        .arg(&cp)
        .arg("-d")
        .arg(&tmp)
        .arg(&src)
        .output()
        .with_context(|| format!("running {}", javac.display()))?;
    if !out.status.success() {
        let _ = std::fs::remove_dir_all(&tmp);
        bail!(
            "javac failed on SigilLucene.java ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Atomic publish; if another process won the race, use its copy.
    if let Err(e) = std::fs::rename(&tmp, &dir) {
        let _ = std::fs::remove_dir_all(&tmp);
        if !dir.join("SigilLucene.class").is_file() {
            return Err(anyhow!(e)).with_context(|| format!("publishing {}", dir.display()));
        }
    }
    Ok(dir)
}

/// Writes the `S`/`N`/`B`/`E` lines of one event.
fn flatten_event(event: &Value, out: &mut String) -> Result<()> {
    let obj = event
        .as_object()
        .ok_or_else(|| anyhow!("an event must be a JSON object, got {event}"))?;
    let mut exists = BTreeSet::new();
    for (k, v) in obj {
        flatten_value(k, v, out, &mut exists);
    }
    for path in exists {
        out.push_str("E\t");
        escape_field(&path, out);
        out.push('\n');
    }
    Ok(())
}

fn flatten_value(path: &str, v: &Value, out: &mut String, exists: &mut BTreeSet<String>) {
    let (kind, text) = match v {
        Value::Null => return,
        Value::Object(m) => {
            for (k, child) in m {
                flatten_value(&format!("{path}.{k}"), child, out, exists);
            }
            return;
        }
        Value::Array(items) => {
            for item in items {
                flatten_value(path, item, out, exists);
            }
            return;
        }
        Value::String(s) => ('S', s.clone()),
        Value::Number(n) => ('N', n.to_string()),
        Value::Bool(b) => ('B', b.to_string()),
    };
    // the path and every dotted prefix of it exist
    let mut end = path.len();
    loop {
        if !exists.insert(path[..end].to_string()) {
            break;
        }
        match path[..end].rfind('.') {
            Some(i) if i > 0 => end = i,
            _ => break,
        }
    }
    out.push(kind);
    out.push('\t');
    escape_field(path, out);
    out.push('\t');
    escape_field(&text, out);
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flattens_like_es() {
        let ev = serde_json::json!({
            "a": {"b": "x", "c": [1, null, {"d": true}]},
            "e": null,
            "f.g": "y",
            "h": []
        });
        let mut out = String::new();
        flatten_event(&ev, &mut out).expect("object");
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines,
            [
                "S\ta.b\tx",
                "N\ta.c\t1",
                "B\ta.c.d\ttrue",
                "S\tf.g\ty",
                "E\ta",
                "E\ta.b",
                "E\ta.c",
                "E\ta.c.d",
                "E\tf",
                "E\tf.g",
            ]
        );
    }
}
