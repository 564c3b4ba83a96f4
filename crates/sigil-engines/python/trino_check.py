"""Athena (Trino) SQL check for sigil-engines: parse with sqlglot's Athena
dialect, transpile to DuckDB and run over a table built from JSON events.

Protocol (one JSON document per line, UTF-8):
  start-up:  prints `READY\t<versions>` or `UNAVAILABLE\t<reason>` (then exits)
  request:   {"table": str, "columns": [{"name", "type", "source"}],
              "events": [...], "queries": [str]}
  response:  {"results": [{"ok": [ids], "sql": duckdb_sql, "emulated": [..]}
                          | {"err": msg, "stage": "parse"|"transpile"|"execute",
                             "sql": duckdb_sql_or_null, "emulated": [..]}]}
             or {"fatal": msg} when the table cannot be built.

`columns[i].type` is a DuckDB type (VARCHAR, BIGINT, DOUBLE, BOOLEAN, JSON,
TIMESTAMP, ...); `source` is the key or dotted path of the value in the event
(default: the column name). Objects/arrays are stored as JSON text. Each query
must return a column named `id` (the event index unless the caller supplies
an `id` column). See src/trino.rs for the Trino constructs that are emulated.
"""

import ipaddress
import json
import sys

try:
    import duckdb
    import sqlglot
    from sqlglot import exp
except Exception as e:  # noqa: BLE001 - any import problem means "not available"
    print("UNAVAILABLE\t" + repr(e).replace("\n", " ").replace("\t", " "), flush=True)
    sys.exit(0)


def _ip(value):
    return ipaddress.ip_address(str(value).strip())


def sigil_ipaddress(value):
    """CAST(x AS IPADDRESS): canonical text, error on invalid input (as Trino)."""
    if value is None:
        return None
    return _ip(value).compressed


def sigil_try_ipaddress(value):
    """TRY_CAST(x AS IPADDRESS): canonical text or NULL."""
    if value is None:
        return None
    try:
        return _ip(value).compressed
    except ValueError:
        return None


def sigil_cidr_contains(cidr, ip):
    """Trino contains(varchar cidr, ipaddress)."""
    if cidr is None or ip is None:
        return None
    net = ipaddress.ip_network(cidr, strict=False)
    addr = _ip(ip)
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    if addr.version != net.version:
        return False
    return addr in net


def _is_ip_cast(node):
    return isinstance(node, (exp.Cast, exp.TryCast)) and node.to.is_type(
        exp.DataType.Type.IPADDRESS
    )


def rewrite(tree, emulated):
    """Replace Trino IP functions that DuckDB lacks by Python UDF calls."""

    def cidr(node):
        if (
            isinstance(node, exp.ArrayContains)
            and isinstance(node.this, exp.Literal)
            and node.this.is_string
            and _is_ip_cast(node.expression)
        ):
            emulated.append("contains(varchar, ipaddress) -> sigil_cidr_contains")
            return exp.Anonymous(
                this="sigil_cidr_contains", expressions=[node.this, node.expression]
            )
        return node

    def casts(node):
        if _is_ip_cast(node):
            if isinstance(node, exp.TryCast) or node.args.get("safe"):
                emulated.append("TRY_CAST(x AS IPADDRESS) -> sigil_try_ipaddress")
                name = "sigil_try_ipaddress"
            else:
                emulated.append("CAST(x AS IPADDRESS) -> sigil_ipaddress")
                name = "sigil_ipaddress"
            return exp.Anonymous(
                this=name, expressions=[exp.cast(node.this, exp.DataType.Type.VARCHAR)]
            )
        return node

    return tree.transform(cidr).transform(casts)


def lookup(event, path):
    if not isinstance(event, dict):
        return None
    if path in event:
        return event[path]
    cur = event
    for part in path.split("."):
        if isinstance(cur, dict) and part in cur:
            cur = cur[part]
        else:
            return None
    return cur


def cell(value):
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return value


def quote_ident(name):
    return '"' + name.replace('"', '""') + '"'


def connect():
    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone='UTC'")
    V, B = "VARCHAR", "BOOLEAN"
    con.create_function("sigil_ipaddress", sigil_ipaddress, [V], V)
    special = "special"
    con.create_function(
        "sigil_try_ipaddress", sigil_try_ipaddress, [V], V, null_handling=special
    )
    con.create_function(
        "sigil_cidr_contains", sigil_cidr_contains, [V, V], B, null_handling=special
    )
    return con


def build_table(con, req):
    table = req.get("table") or "events"
    columns = list(req.get("columns") or [])
    if not any(c["name"] == "id" for c in columns):
        columns.insert(0, {"name": "id", "type": "BIGINT", "source": None, "_index": True})
    defs = ", ".join(quote_ident(c["name"]) + " " + c["type"] for c in columns)
    con.execute(f"CREATE TABLE {quote_ident(table)} ({defs})")
    rows = []
    for i, ev in enumerate(req.get("events") or []):
        row = []
        for c in columns:
            if c.get("_index"):
                row.append(i)
            else:
                row.append(cell(lookup(ev, c.get("source") or c["name"])))
        rows.append(row)
    if rows:
        marks = ", ".join("?" for _ in columns)
        con.executemany(f"INSERT INTO {quote_ident(table)} VALUES ({marks})", rows)


def first_line(e):
    text = str(e).strip()
    return text if len(text) < 2000 else text[:2000] + "..."


def run_query(con, q):
    emulated = []
    try:
        tree = sqlglot.parse_one(q, read="athena")
        if not isinstance(tree, exp.Query):
            raise ValueError(f"not a query (sqlglot parsed it as {type(tree).__name__})")
    except Exception as e:  # noqa: BLE001
        return {"err": first_line(e), "stage": "parse", "sql": None, "emulated": []}
    try:
        sql = rewrite(tree, emulated).sql(dialect="duckdb")
    except Exception as e:  # noqa: BLE001
        return {"err": first_line(e), "stage": "transpile", "sql": None, "emulated": emulated}
    try:
        cur = con.execute(sql)
        names = [d[0] for d in cur.description or []]
        if "id" not in names:
            raise ValueError(f"query result has no `id` column (columns: {names})")
        k = names.index("id")
        ids = sorted(int(r[k]) for r in cur.fetchall() if r[k] is not None)
        return {"ok": ids, "sql": sql, "emulated": sorted(set(emulated))}
    except Exception as e:  # noqa: BLE001
        return {
            "err": first_line(e),
            "stage": "execute",
            "sql": sql,
            "emulated": sorted(set(emulated)),
        }


def handle(req):
    con = connect()
    try:
        try:
            build_table(con, req)
        except Exception as e:  # noqa: BLE001
            return {"fatal": "building the table failed: " + first_line(e)}
        return {"results": [run_query(con, q) for q in req.get("queries") or []]}
    finally:
        con.close()


def main():
    print(
        f"READY\tsqlglot={sqlglot.__version__} duckdb={duckdb.__version__}", flush=True
    )
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            resp = handle(json.loads(line))
        except Exception as e:  # noqa: BLE001
            resp = {"fatal": repr(e)}
        sys.stdout.write(json.dumps(resp) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
