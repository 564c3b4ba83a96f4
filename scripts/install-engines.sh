#!/usr/bin/env bash
# Installs the real engines that crates/sigil-engines drives in tests:
#   * Apache Lucene 8 jars (Debian liblucene8-java) + a JDK (javac/java)
#   * PostgreSQL server binaries (initdb/pg_ctl) and the `sigil_pg` system user
#     (PostgreSQL refuses to run as root; the harness runs it as that user)
#   * a Python venv with sqlglot + duckdb (+ numpy, needed by DuckDB's Python UDFs)
#     for the Athena/Trino SQL check
# Idempotent and non-interactive; meant to run as root on Debian (CI, dev machines).
# Environment: SIGIL_VENV (default /opt/sigil-venv).
set -euo pipefail

VENV="${SIGIL_VENV:-/opt/sigil-venv}"
# Versions the harness was tested with.
SQLGLOT_VERSION="30.30.0"
DUCKDB_VERSION="2.0.1"
NUMPY_VERSION="2.4.6"
PG_USER="sigil_pg"

log() { echo "install-engines: $*"; }

SUDO=""
if [ "$(id -u)" != "0" ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        log "not root and no sudo: system packages and the $PG_USER user cannot be installed"
    fi
fi

apt_updated=0
apt_install() {
    if [ "$apt_updated" = 0 ]; then
        log "apt-get update"
        $SUDO apt-get update -q
        apt_updated=1
    fi
    log "apt-get install $*"
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@"
}

have_glob() { compgen -G "$1" >/dev/null 2>&1; }

packages=()
if have_glob "/usr/share/java/lucene-core*.jar" && have_glob "/usr/share/java/lucene-queryparser*.jar" \
    && have_glob "/usr/share/java/lucene-analyzers-common*.jar"; then
    log "Lucene jars present: $(ls /usr/share/java/lucene-core*.jar | head -n1)"
else
    packages+=(liblucene8-java)
fi
if command -v javac >/dev/null 2>&1 && command -v java >/dev/null 2>&1; then
    log "JDK present: $(javac -version 2>&1)"
else
    packages+=(default-jdk-headless)
fi
if have_glob "/usr/lib/postgresql/*/bin/initdb"; then
    log "PostgreSQL server present: $(ls -d /usr/lib/postgresql/*/bin | tail -n1)"
else
    # do not let postgresql-common create and start a default cluster
    $SUDO mkdir -p /etc/postgresql-common
    if [ ! -f /etc/postgresql-common/createcluster.conf ]; then
        echo "create_main_cluster = false" | $SUDO tee /etc/postgresql-common/createcluster.conf >/dev/null
    fi
    packages+=(postgresql)
fi
if ! command -v python3 >/dev/null 2>&1; then
    packages+=(python3 python3-venv)
elif ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
    packages+=(python3-venv)
fi
if [ "${#packages[@]}" -gt 0 ]; then
    apt_install "${packages[@]}"
fi

check_venv() {
    "$VENV/bin/python3" - <<PY >/dev/null 2>&1
import sqlglot, duckdb, numpy
assert sqlglot.__version__ == "$SQLGLOT_VERSION", sqlglot.__version__
assert duckdb.__version__ == "$DUCKDB_VERSION", duckdb.__version__
PY
}
if [ -x "$VENV/bin/python3" ] && check_venv; then
    log "venv $VENV has sqlglot $SQLGLOT_VERSION, duckdb $DUCKDB_VERSION"
else
    if [ ! -x "$VENV/bin/python3" ]; then
        log "creating venv $VENV"
        $SUDO python3 -m venv "$VENV"
    fi
    log "pip install sqlglot==$SQLGLOT_VERSION duckdb==$DUCKDB_VERSION numpy==$NUMPY_VERSION into $VENV"
    $SUDO "$VENV/bin/python3" -m pip install -q --disable-pip-version-check \
        "sqlglot==$SQLGLOT_VERSION" "duckdb==$DUCKDB_VERSION" "numpy==$NUMPY_VERSION"
    check_venv || { log "ERROR: $VENV still lacks sqlglot/duckdb/numpy"; exit 1; }
fi

if [ "$(id -u)" = "0" ] || [ -n "$SUDO" ]; then
    if id -u "$PG_USER" >/dev/null 2>&1; then
        log "user $PG_USER present"
    else
        log "useradd $PG_USER"
        $SUDO useradd --system --no-create-home --shell /usr/sbin/nologin "$PG_USER"
    fi
fi

log "done (run the engine tests with: SIGIL_REQUIRE_ENGINES=1 cargo test -p sigil-engines)"
