//! A throw-away PostgreSQL cluster per [`Postgres`] instance.
//!
//! `initdb` into a fresh directory under the system temp dir (`sigil-pg-<pid>-<n>`),
//! `pg_ctl start` with no TCP listener (`listen_addresses = ''`), the unix socket in
//! that directory, `fsync = off`; the server is stopped (`-m immediate`) and the
//! directory removed on drop, also when a test panics. Directories left by dead
//! processes (e.g. a test binary that was killed) are stopped and removed by the
//! next [`Postgres::start`]. Instances are independent, so tests may start clusters
//! in parallel.
//!
//! PostgreSQL refuses to run as root: as root, the server commands run as the system
//! user `sigil_pg` (created with `useradd` when missing) through `runuser -u`;
//! otherwise as the current user. The cluster uses `-E UTF8 --locale=C.UTF-8`
//! (override with `SIGIL_PG_LOCALE`), superuser `postgres`, `trust` authentication.
//! The server binaries are found in `$SIGIL_PG_BIN`, else the newest
//! `/usr/lib/postgresql/<version>/bin`, else via `pg_config --bindir`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};
use postgres::types::Type;
use postgres::{Client, NoTls};
use serde_json::Value;

use crate::proc::{find_in_path, is_executable, is_root, pid_alive, unique_suffix};
use crate::{lookup, quote_ident, unavailable, Column};

const ENGINE: &str = "PostgreSQL";
/// System user that runs the server when the harness runs as root.
pub const PG_SYSTEM_USER: &str = "sigil_pg";
const DIR_PREFIX: &str = "sigil-pg-";
const PORT: u16 = 5432;

/// A running PostgreSQL cluster with a connected superuser client.
pub struct Postgres {
    client: Option<Client>,
    dir: PathBuf,
    bin: PathBuf,
    run_as: Option<String>,
    started: bool,
    version: String,
}

impl std::fmt::Debug for Postgres {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Postgres")
            .field("dir", &self.dir)
            .field("version", &self.version)
            .finish()
    }
}

impl Postgres {
    /// Creates, starts and connects to a new cluster. `Ok(None)` (with a `SKIPPED`
    /// message) when PostgreSQL is not installed, unless `SIGIL_REQUIRE_ENGINES=1`.
    pub fn start() -> Result<Option<Postgres>> {
        let bin = match find_bin() {
            Ok(b) => b,
            Err(reason) => return unavailable(ENGINE, reason),
        };
        let run_as = if is_root() {
            if find_in_path("runuser").is_none() {
                return unavailable(ENGINE, "running as root and `runuser` is missing");
            }
            ensure_system_user()?;
            Some(PG_SYSTEM_USER.to_string())
        } else {
            None
        };
        cleanup_stale(&bin, run_as.as_deref());

        let dir = std::env::temp_dir().join(format!("{DIR_PREFIX}{}", unique_suffix()));
        let mut pg = Postgres {
            client: None,
            dir,
            bin,
            run_as,
            started: false,
            version: String::new(),
        };
        // from here on, Drop cleans up whatever was created
        pg.init()
            .with_context(|| format!("starting PostgreSQL in {}", pg.dir.display()))?;
        Ok(Some(pg))
    }

    fn init(&mut self) -> Result<()> {
        std::fs::create_dir(&self.dir)
            .with_context(|| format!("creating {}", self.dir.display()))?;
        if let Some(user) = &self.run_as {
            let (uid, gid) = user_ids(user)?;
            std::os::unix::fs::chown(&self.dir, Some(uid), Some(gid))
                .with_context(|| format!("chown {} to {user}", self.dir.display()))?;
        }
        let data = self.data_dir();
        let locale = std::env::var("SIGIL_PG_LOCALE").unwrap_or_else(|_| "C.UTF-8".into());
        self.run_tool(
            "initdb",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-U".as_ref(),
                "postgres".as_ref(),
                "-A".as_ref(),
                "trust".as_ref(),
                "-E".as_ref(),
                "UTF8".as_ref(),
                format!("--locale={locale}").as_ref(),
                "--no-sync".as_ref(),
            ],
        )?;
        let conf = data.join("postgresql.conf");
        let mut text = std::fs::read_to_string(&conf)
            .with_context(|| format!("reading {}", conf.display()))?;
        text.push_str(&format!(
            "\n# sigil-engines\nlisten_addresses = ''\nunix_socket_directories = '{}'\nport = {PORT}\n\
             fsync = off\nsynchronous_commit = off\nfull_page_writes = off\nmax_connections = 20\n\
             shared_buffers = 16MB\n",
            self.dir.display().to_string().replace('\'', "''")
        ));
        std::fs::write(&conf, text).with_context(|| format!("writing {}", conf.display()))?;
        let log = self.dir.join("server.log");
        self.started = true; // a failed start may still leave a postmaster behind
        self.run_tool(
            "pg_ctl",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-l".as_ref(),
                log.as_os_str(),
                "-w".as_ref(),
                "-t".as_ref(),
                "60".as_ref(),
                "start".as_ref(),
            ],
        )
        .map_err(|e| {
            let log = std::fs::read_to_string(&log).unwrap_or_default();
            e.context(format!("server log:\n{log}"))
        })?;
        let mut client = postgres::Config::new()
            .host_path(&self.dir)
            .port(PORT)
            .user("postgres")
            .dbname("postgres")
            .application_name("sigil-engines")
            .connect(NoTls)
            .context("connecting to PostgreSQL over its unix socket")?;
        let row = client
            .query_one("SHOW server_version", &[])
            .context("SHOW server_version")?;
        self.version = row.get(0);
        self.client = Some(client);
        Ok(())
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn run_tool(&self, tool: &str, args: &[&std::ffi::OsStr]) -> Result<()> {
        let out = tool_command(&self.bin, self.run_as.as_deref(), tool, &self.dir)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("running {tool}"))?;
        if !out.status.success() {
            bail!(
                "{tool} failed ({}):\n{}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(())
    }

    /// The connected superuser client (database `postgres`).
    pub fn client(&mut self) -> &mut Client {
        self.client
            .as_mut()
            .expect("Postgres::client is set for every started instance")
    }

    /// Server version (`SHOW server_version`).
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Directory of the unix socket (the connection "host").
    pub fn socket_dir(&self) -> &Path {
        &self.dir
    }

    /// Port number in the socket file name (`.s.PGSQL.<port>`); there is no TCP listener.
    pub fn port(&self) -> u16 {
        PORT
    }

    /// Runs one or more `;`-separated statements (simple query protocol).
    pub fn batch_execute(&mut self, sql: &str) -> Result<()> {
        self.client()
            .batch_execute(sql)
            .map_err(|e| anyhow::anyhow!(error_text(&e)))
            .with_context(|| format!("executing SQL: {sql}"))
    }

    /// Runs a query and returns its `id` column (`int2`/`int4`/`int8`), sorted, NULLs
    /// dropped. SQL errors come back as `Err("<SQLSTATE>: <message>")`.
    pub fn query_ids(&mut self, sql: &str) -> Result<Vec<i64>, String> {
        let rows = self.client().query(sql, &[]).map_err(|e| error_text(&e))?;
        let mut ids = Vec::with_capacity(rows.len());
        for row in &rows {
            let idx = row
                .columns()
                .iter()
                .position(|c| c.name() == "id")
                .ok_or_else(|| "query result has no `id` column".to_string())?;
            let ty = row.columns()[idx].type_().clone();
            let id = if ty == Type::INT8 {
                row.try_get::<_, Option<i64>>(idx)
            } else if ty == Type::INT4 {
                row.try_get::<_, Option<i32>>(idx).map(|v| v.map(i64::from))
            } else if ty == Type::INT2 {
                row.try_get::<_, Option<i16>>(idx).map(|v| v.map(i64::from))
            } else {
                return Err(format!("`id` column has type {ty}, expected an integer"));
            }
            .map_err(|e| e.to_string())?;
            ids.extend(id);
        }
        ids.sort_unstable();
        Ok(ids)
    }

    /// (Re)creates `table (id bigint primary key, doc jsonb not null)` holding the events,
    /// `id` being the event index.
    pub fn create_jsonb_table(&mut self, table: &str, events: &[Value]) -> Result<()> {
        let t = quote_ident(table);
        self.batch_execute(&format!(
            "DROP TABLE IF EXISTS {t}; CREATE TABLE {t} (id bigint PRIMARY KEY, doc jsonb NOT NULL)"
        ))?;
        let payload = Value::Array(events.to_vec()).to_string();
        self.client()
            .execute(
                &format!(
                    "INSERT INTO {t} (id, doc) SELECT ord - 1, elem \
                     FROM jsonb_array_elements($1::text::jsonb) WITH ORDINALITY AS x(elem, ord)"
                ),
                &[&payload],
            )
            .map_err(|e| anyhow::anyhow!(error_text(&e)))
            .with_context(|| format!("filling table {table}"))?;
        Ok(())
    }

    /// (Re)creates a flat table `table (id bigint primary key, <columns>)`: `id` is the
    /// event index (unless a column is named `id`), each column's value comes from its
    /// `source` path in the event (strings as is, numbers/booleans as their JSON text,
    /// objects/arrays as JSON text, missing/null as NULL) cast to `sql_type`.
    pub fn create_flat_table(
        &mut self,
        table: &str,
        columns: &[Column],
        events: &[Value],
    ) -> Result<()> {
        let t = quote_ident(table);
        let own_id = columns.iter().any(|c| c.name == "id");
        let mut defs = Vec::new();
        let mut exprs = Vec::new();
        if !own_id {
            defs.push("id bigint PRIMARY KEY".to_string());
            exprs.push("(r->>0)::bigint".to_string());
        }
        for (i, c) in columns.iter().enumerate() {
            defs.push(format!("{} {}", quote_ident(&c.name), c.sql_type));
            exprs.push(format!("(r->>{})::{}", i + 1, c.sql_type));
        }
        let rows: Vec<Value> = events
            .iter()
            .enumerate()
            .map(|(i, ev)| {
                let mut row = vec![Value::from(i as i64)];
                row.extend(columns.iter().map(|c| match lookup(ev, c.source()) {
                    None | Some(Value::Null) => Value::Null,
                    Some(Value::String(s)) => Value::String(s.clone()),
                    Some(other) => Value::String(other.to_string()),
                }));
                Value::Array(row)
            })
            .collect();
        self.batch_execute(&format!(
            "DROP TABLE IF EXISTS {t}; CREATE TABLE {t} ({})",
            defs.join(", ")
        ))?;
        let payload = Value::Array(rows).to_string();
        self.client()
            .execute(
                &format!(
                    "INSERT INTO {t} SELECT {} FROM jsonb_array_elements($1::text::jsonb) AS x(r)",
                    exprs.join(", ")
                ),
                &[&payload],
            )
            .map_err(|e| anyhow::anyhow!(error_text(&e)))
            .with_context(|| format!("filling table {table}"))?;
        Ok(())
    }

    fn stop(&mut self) {
        drop(self.client.take());
        if self.started {
            let data = self.data_dir();
            let res = tool_command(&self.bin, self.run_as.as_deref(), "pg_ctl", &self.dir)
                .arg("-D")
                .arg(&data)
                .args(["-m", "immediate", "-w", "-t", "30", "stop"])
                .stdin(Stdio::null())
                .output();
            match res {
                Ok(out) if out.status.success() => {}
                Ok(out) => eprintln!(
                    "sigil-engines: pg_ctl stop failed for {}: {}",
                    data.display(),
                    String::from_utf8_lossy(&out.stderr)
                ),
                Err(e) => eprintln!("sigil-engines: pg_ctl stop: {e}"),
            }
            self.started = false;
        }
        if self.dir.exists() {
            if let Err(e) = std::fs::remove_dir_all(&self.dir) {
                eprintln!("sigil-engines: removing {}: {e}", self.dir.display());
            }
        }
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Text of a client error: `SQLSTATE: message` for server errors.
fn error_text(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => e.to_string(),
    }
}

fn tool_command(bin: &Path, run_as: Option<&str>, tool: &str, cwd: &Path) -> Command {
    let exe = bin.join(tool);
    let mut cmd = match run_as {
        Some(user) => {
            let mut c = Command::new("runuser");
            c.args(["-u", user, "--"]).arg(exe);
            c
        }
        None => Command::new(exe),
    };
    // the server user may not be allowed into the caller's working directory
    cmd.current_dir(cwd);
    cmd.env_remove("PGDATA");
    cmd
}

fn find_bin() -> Result<PathBuf, String> {
    let ok = |p: &Path| is_executable(&p.join("initdb")) && is_executable(&p.join("pg_ctl"));
    if let Some(b) = std::env::var_os("SIGIL_PG_BIN") {
        let b = PathBuf::from(b);
        return if ok(&b) {
            Ok(b)
        } else {
            Err(format!("SIGIL_PG_BIN={} has no initdb/pg_ctl", b.display()))
        };
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            Some((v, e.path().join("bin")))
        })
        .filter(|(_, p)| ok(p))
        .collect();
    versions.sort();
    if let Some((_, p)) = versions.pop() {
        return Ok(p);
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let p = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if out.status.success() && ok(&p) {
            return Ok(p);
        }
    }
    if let Some(initdb) = find_in_path("initdb") {
        if let Some(p) = initdb.parent().filter(|p| ok(p)) {
            return Ok(p.to_path_buf());
        }
    }
    Err(
        "no PostgreSQL server binaries (initdb, pg_ctl) in /usr/lib/postgresql/*/bin, \
         pg_config --bindir or PATH; run scripts/install-engines.sh"
            .into(),
    )
}

fn user_ids(user: &str) -> Result<(u32, u32)> {
    let id = |flag: &str| -> Result<u32> {
        let out = Command::new("id")
            .args([flag, user])
            .output()
            .with_context(|| format!("running id {flag} {user}"))?;
        if !out.status.success() {
            bail!(
                "id {flag} {user}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .with_context(|| format!("parsing the output of id {flag} {user}"))
    };
    Ok((id("-u")?, id("-g")?))
}

fn ensure_system_user() -> Result<()> {
    if user_ids(PG_SYSTEM_USER).is_ok() {
        return Ok(());
    }
    let out = Command::new("useradd")
        .args([
            "--system",
            "--no-create-home",
            "--shell",
            "/usr/sbin/nologin",
        ])
        .arg(PG_SYSTEM_USER)
        .output()
        .context("running useradd")?;
    // another test thread/process may have created it concurrently
    if !out.status.success() && user_ids(PG_SYSTEM_USER).is_err() {
        bail!(
            "useradd {PG_SYSTEM_USER} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// Stops and removes clusters whose owning process is gone.
fn cleanup_stale(bin: &Path, run_as: Option<&str>) {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.filter_map(|e| e.ok()) {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(DIR_PREFIX)) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid == std::process::id() || pid_alive(pid) {
            continue;
        }
        let dir = entry.path();
        let data = dir.join("data");
        if data.join("postmaster.pid").exists() {
            let _ = tool_command(bin, run_as, "pg_ctl", &dir)
                .arg("-D")
                .arg(&data)
                .args(["-m", "immediate", "-w", "-t", "30", "stop"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        eprintln!("sigil-engines: removing stale cluster {}", dir.display());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
