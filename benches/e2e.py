#!/usr/bin/env python3
"""End-to-end benchmarks: Flow beside the fastest plain path and beside its peers, in one run.

For each move (PostgreSQL -> PostgreSQL, MySQL -> PostgreSQL, ...) this times `flow run` (the
release binary), a reference that does the same move with the databases' own tools (psql,
mariadb, sqlite3, and pyarrow where no database tool writes the format), and DuckDB 1.5.5 with its
postgres, mysql and sqlite extensions (`ATTACH ... (TYPE postgres)`, then `CREATE TABLE ... AS
SELECT` or `COPY ... TO` Parquet; see benches/peers.py). It measures wall time and peak RSS (of
the whole process tree, from wait4), verifies every Flow target with `flow verify` (row counts and
a checksum over all columns, partition by partition; an unverified time is not reported), checks
every reference and DuckDB target against Flow's (row counts and EXCEPT ALL both ways in the
database, the row count for files) and compares their column types with Flow's, and prints a
markdown table with the ratios Flow / reference, Flow / DuckDB and Flow / best peer. A move Flow
fails is reported as failing, with its error below the table; its peers are then checked against
the source table where it holds the same rows.

    benches/run.sh [--rows N] [--tables N] [--out FILE] [--only NAME[,NAME...]] [--no-duckdb]

`--only scaling` and `--only cluster` run the partition-scaling and the cluster-overhead rows;
`--only whole-database` and `--only many-tables` the whole-database copies of benches/many_tables.py
(`flow copy --all-tables` beside `pgcopydb clone` and DuckDB's loop).

Data: a deterministic `orders` table (id bigint primary key, customer_id int, status text of 5
values, total numeric(12,2), created_at timestamp, paid boolean, note text ~30% NULL else 20-60
characters, weight double precision, ship_date date ~25% NULL), built in PostgreSQL and MariaDB
from the same formulas. The SQLite source is written the way ordinary programs write SQLite: by
Python's `sqlite3` module from PostgreSQL's rows (`NUMERIC(12,2)` holding REAL, timestamps and
dates as text, booleans as 0/1).
"""

import argparse
import os
import shlex
import subprocess
import sys
import tempfile
import time

import many_tables
import peers
from common import attempt, sh, timed

PG_URL = "postgres://postgres@127.0.0.1:5432/flow_bench"
MY_URL = "mysql://root@127.0.0.1:3306/flow_bench"
PSQL = "psql -X -q -h 127.0.0.1 -U postgres -d flow_bench -v ON_ERROR_STOP=1"
MARIADB = "mariadb -uroot -h 127.0.0.1 flow_bench"
COLUMNS = "id, customer_id, status, total, created_at, paid, note, weight, ship_date"


def setup(rows, sqlite_path):
    print(f"preparing {rows:,} rows in PostgreSQL, MariaDB and SQLite ...", file=sys.stderr)
    sh("psql -X -q -h 127.0.0.1 -U postgres -d postgres -tc \"SELECT 1 FROM pg_database WHERE datname = 'flow_bench'\" "
       "| grep -q 1 || psql -X -q -h 127.0.0.1 -U postgres -d postgres -c 'CREATE DATABASE flow_bench'")
    sh(f"""{PSQL} <<'SQL'
DROP TABLE IF EXISTS bench_orders;
CREATE TABLE bench_orders AS
SELECT g::bigint AS id,
       (g * 7919 % 100000)::int AS customer_id,
       (ARRAY['new','paid','shipped','delivered','cancelled'])[(g % 5 + 1)::int] AS status,
       ((g * 37 % 100000) / 100.0)::numeric(12,2) AS total,
       timestamp '2020-01-01' + g::int * interval '17 seconds' AS created_at,
       (g % 3 = 0) AS paid,
       CASE WHEN g % 10 < 3 THEN NULL ELSE substr(repeat(md5(g::text), 2), 1, (20 + g % 41)::int) END AS note,
       ((g % 1000) / 7.0)::float8 AS weight,
       CASE WHEN g % 4 = 0 THEN NULL ELSE date '2020-01-01' + (g % 2000)::int END AS ship_date
FROM generate_series(1::bigint, {rows}) g;
ALTER TABLE bench_orders ADD PRIMARY KEY (id);
VACUUM ANALYZE bench_orders;
SQL""")
    sh("mariadb -uroot -h 127.0.0.1 -e 'CREATE DATABASE IF NOT EXISTS flow_bench'")
    sh(f"""{MARIADB} <<'SQL'
DROP TABLE IF EXISTS bench_orders;
CREATE TABLE bench_orders (id BIGINT PRIMARY KEY, customer_id INT, status VARCHAR(16), total DECIMAL(12,2),
  created_at DATETIME, paid BOOLEAN, note TEXT, weight DOUBLE, ship_date DATE);
INSERT INTO bench_orders
SELECT seq, seq * 7919 % 100000, ELT(seq % 5 + 1, 'new','paid','shipped','delivered','cancelled'),
       (seq * 37 % 100000) / 100.0, TIMESTAMP '2020-01-01 00:00:00' + INTERVAL seq * 17 SECOND, seq % 3 = 0,
       IF(seq % 10 < 3, NULL, SUBSTR(REPEAT(MD5(seq), 2), 1, 20 + seq % 41)), (seq % 1000) / 7.0,
       IF(seq % 4 = 0, NULL, DATE '2020-01-01' + INTERVAL seq % 2000 DAY)
FROM seq_1_to_{rows};
SQL""")
    write_sqlite_source(sqlite_path)
    # The data volume every move carries: the table as CSV text.
    return int(sh(f"{PSQL} -c \"COPY bench_orders TO STDOUT (FORMAT csv)\" | wc -c", capture=True).strip())


def write_sqlite_source(path):
    """The SQLite source as ordinary programs write it: Python's `sqlite3` module, declared types
    `NUMERIC(12,2)` (holding REAL, stored as INTEGER where the value is whole: SQLite's numeric
    affinity), `TIMESTAMP` and `DATE` holding text, `BOOLEAN` holding 0/1. The rows are PostgreSQL's
    `bench_orders`, read with COPY, so every target can be compared with that table."""
    import sqlite3

    if os.path.exists(path):
        os.remove(path)
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE bench_orders (id INTEGER PRIMARY KEY, customer_id INTEGER, status TEXT, "
                "total NUMERIC(12,2), created_at TIMESTAMP, paid BOOLEAN, note TEXT, weight REAL, ship_date DATE)")
    copy = subprocess.Popen(["bash", "-o", "pipefail", "-c", f"{PSQL} -c 'COPY bench_orders TO STDOUT'"],
                            stdout=subprocess.PIPE, text=True)

    def rows():
        for line in copy.stdout:
            v = [None if f == "\\N" else f for f in line.rstrip("\n").split("\t")]
            yield (int(v[0]), int(v[1]), v[2], float(v[3]), v[4], int(v[5] == "t"), v[6], float(v[7]), v[8])

    con.executemany("INSERT INTO bench_orders VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows())
    con.commit()
    con.close()
    if copy.wait() != 0:
        sys.exit("reading bench_orders from PostgreSQL for the SQLite source failed")


def flow_file(path, source, sink, transform="", parallelism=2, partitions=2):
    partition = f"{{ partition by id into {partitions} }}" if partitions > 1 else ""
    body = f"""let src = {source}
let dst = {sink[0]}
pipeline bench {{
  parallelism {parallelism}
  source s = src.table("{sink[2]}") {partition}
  {transform}
  sink out = {"t" if transform else "s"} -> {sink[1]} {{ mode replace }}
}}
"""
    with open(path, "w") as f:
        f.write(body)
    return path


def verify(flow_bin, file):
    out = subprocess.run([flow_bin, "verify", file], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"verification failed for {file}:\n{out.stdout}{out.stderr}")


class Cluster:
    """`flow scheduler` and `flow executor` processes on free loopback ports, stopped on exit."""

    def __init__(self, flow_bin, executors, slots, logs):
        self.procs = []
        sched = subprocess.Popen([flow_bin, "scheduler", "--bind", "127.0.0.1:0"], stdout=subprocess.PIPE,
                                 stderr=open(os.path.join(logs, "scheduler.err"), "w"), text=True)
        self.procs.append(sched)
        line = sched.stdout.readline().strip()
        if not line.startswith("listening on "):
            sys.exit(f"flow scheduler did not start: {line!r}")
        self.address = line.removeprefix("listening on ")
        for i in range(executors):
            port = free_port_pair()
            err = os.path.join(logs, f"executor{i}.err")
            self.procs.append(subprocess.Popen(
                [flow_bin, "executor", "--scheduler", self.address, "--bind", f"127.0.0.1:{port}",
                 "--slots", str(slots), "--id", f"exec-{i}", "--heartbeat", "1"],
                stdout=subprocess.DEVNULL, stderr=open(err, "w"), env={**os.environ, "FLOW_LOG": "info"}))
            deadline = time.time() + 60
            while "Executor registration succeed" not in open(err).read():
                if time.time() > deadline:
                    sys.exit(f"executor {i} did not register:\n{open(err).read()}")
                time.sleep(0.1)

    def close(self):
        for p in reversed(self.procs):
            p.terminate()
            p.wait()


def free_port_pair():
    """A port p with p + 1 free too (an executor's Flight and gRPC ports)."""
    import socket
    while True:
        with socket.socket() as a:
            a.bind(("127.0.0.1", 0))
            port = a.getsockname()[1]
            with socket.socket() as b:
                try:
                    b.bind(("127.0.0.1", port + 1))
                    return port
                except OSError:
                    continue


def cluster_rows(flow_bin, work, pg, rows, volume):
    """PostgreSQL -> Parquet in 2 partitions: local, then on 1 executor (2 slots), then on 2
    executors (1 slot each): the same parallelism everywhere, so the ratios are the cluster's
    overhead (this machine has 2 cores; more executors on it add no cores)."""
    logs = os.path.join(work, "cluster-logs")
    os.makedirs(logs, exist_ok=True)
    f = flow_file(os.path.join(work, "cluster.flow"), pg,
                  (f'parquet("{work}")', 'dst.table("cluster")', "public.bench_orders"), parallelism=2, partitions=2)
    local, _ = timed(f"{shlex.quote(flow_bin)} run -q {shlex.quote(f)}")
    verify(flow_bin, f)
    out = []
    for executors, slots in ((1, 2), (2, 1)):
        cluster = Cluster(flow_bin, executors, slots, logs)
        try:
            engine = f"ballista://{cluster.address}"
            seconds, rss = timed(f"{shlex.quote(flow_bin)} run -q {shlex.quote(f)} --engine {engine}")
            verify(flow_bin, f)
        finally:
            cluster.close()
        out.append(
            f"| postgres->parquet on {executors} executor(s) vs local | {seconds:.2f} | {rows / seconds:,.0f} | "
            f"{(volume / 1e6) / seconds:,.1f} | {rss:,.0f} (client) | {local:.2f} | - | - | - | **{seconds / local:.2f}** | "
            f"- | - | `flow run` in one process, same file, 2 partitions | - |"
        )
        print(out[-1], file=sys.stderr)
    return out


def column_types(kind, target):
    """[(column, declared type)] of a target: a PostgreSQL or MariaDB table, a SQLite file's
    `orders`, or a Parquet file (Arrow types)."""
    if kind == "pg":
        out = sh(f"{PSQL} -At -F '|' -c \"SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
                 f"WHERE attrelid = '{target}'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum\"", capture=True)
        return [tuple(line.split("|", 1)) for line in out.splitlines()]
    if kind == "my":
        out = sh(f"{MARIADB} -N -e \"SELECT COLUMN_NAME, COLUMN_TYPE FROM information_schema.COLUMNS "
                 f"WHERE TABLE_SCHEMA = 'flow_bench' AND TABLE_NAME = '{target}' ORDER BY ORDINAL_POSITION\"", capture=True)
        return [tuple(line.split("\t", 1)) for line in out.splitlines()]
    if kind == "sqlite":
        import sqlite3
        with sqlite3.connect(target) as con:
            return [(r[1], r[2]) for r in con.execute("PRAGMA table_info(orders)")]
    import pyarrow.parquet as pq
    return [(f.name, str(f.type)) for f in pq.read_schema(target)]


def sqlite_affinity(declared):
    """SQLite's type affinity of a declared type (https://sqlite.org/datatype3.html, 3.1)."""
    t = declared.upper()
    if "INT" in t:
        return "INTEGER"
    if any(k in t for k in ("CHAR", "CLOB", "TEXT")):
        return "TEXT"
    if not t or "BLOB" in t:
        return "BLOB"
    if any(k in t for k in ("REAL", "FLOA", "DOUB")):
        return "REAL"
    return "NUMERIC"


def comparable(a, b, kind="pg"):
    """Two declared types hold the same values and tell a reader the same: PostgreSQL's varchar
    without a length is text; MariaDB's text types differ only in their length limit; SQLite's
    BIGINT and INTEGER, DOUBLE and REAL, VARCHAR and TEXT share an affinity (but a column declared
    BOOLEAN, DATE, TIMESTAMP or NUMERIC(p,s) says something VARCHAR or BIGINT does not)."""
    a, b = a.lower(), b.lower()
    if kind == "pg":
        a, b = ({"character varying": "text"}.get(t, t) for t in (a, b))
    elif kind == "my":
        a, b = ("text" if t in ("tinytext", "text", "mediumtext", "longtext") else t for t in (a, b))
    elif kind == "sqlite":
        return a == b or sqlite_affinity(a) == sqlite_affinity(b) != "NUMERIC"
    return a == b


def type_changes(kind, base, other):
    """The columns whose type differs from the baseline's: ['total double precision for numeric(12,2)']."""
    want = dict(base)
    return [f"{c} {t} for {want[c]}" for c, t in other if c in want and not comparable(t, want[c], kind)]


def same_rows_pg(a, b, cols=None):
    """Row count of `b`, and whether `b` holds exactly the rows of `a` (EXCEPT ALL both ways), with
    `b`'s columns cast to `a`'s types where they differ."""
    base = column_types("pg", a)
    other = dict(column_types("pg", b))
    names = [c for c, _ in base if cols is None or c in cols]
    types = dict(base)

    def cast(c):
        if comparable(other[c], types[c]):
            return c
        if types[c] == "boolean" and other[c] in ("bigint", "integer", "smallint"):
            return f"({c} <> 0) AS {c}"
        return f"{c}::{types[c]} AS {c}"

    sel_a, sel_b = ", ".join(names), ", ".join(cast(c) for c in names)
    out = sh(f"{PSQL} -At -c \"SELECT (SELECT count(*) FROM {b}), "
             f"(SELECT count(*) FROM (SELECT {sel_a} FROM {a} EXCEPT ALL SELECT {sel_b} FROM {b}) x), "
             f"(SELECT count(*) FROM (SELECT {sel_b} FROM {b} EXCEPT ALL SELECT {sel_a} FROM {a}) y)\"", capture=True)
    count, missing, extra = (int(v) for v in out.strip().split("|"))
    return count, missing == 0 and extra == 0


def same_rows_my(a, b):
    out = sh(f"{MARIADB} -N -e 'SELECT (SELECT count(*) FROM {b}), "
             f"(SELECT count(*) FROM (SELECT * FROM {a} EXCEPT ALL SELECT * FROM {b}) x), "
             f"(SELECT count(*) FROM (SELECT * FROM {b} EXCEPT ALL SELECT * FROM {a}) y)'", capture=True)
    count, missing, extra = (int(v) for v in out.split())
    return count, missing == 0 and extra == 0


def count_rows(kind, target):
    """Row count of a target: a table, a SQLite file's `orders`, a Parquet file."""
    if kind == "pg":
        return int(sh(f"{PSQL} -At -c 'SELECT count(*) FROM {target}'", capture=True))
    if kind == "my":
        return int(sh(f"{MARIADB} -N -e 'SELECT count(*) FROM {target}'", capture=True))
    if kind == "sqlite":
        return int(sh(f"sqlite3 {target} 'SELECT count(*) FROM orders'", capture=True))
    n = sh(f"python3 -c \"import pyarrow.parquet as p; print(p.ParquetFile('{target}').metadata.num_rows)\"", capture=True)
    return int(n)


def check_target(kind, base, other, cols=None):
    """(rows, same): the target `other` against the verified `base` the way each kind allows:
    row counts and EXCEPT ALL in the database, the count for files."""
    if kind == "pg":
        return same_rows_pg(base, other, cols)
    if kind == "my":
        return same_rows_my(base, other)
    return count_rows(kind, other), True


def first_line(text, limit=300):
    line = next((l for l in text.splitlines() if l.strip()), text).strip()
    return line if len(line) <= limit else line[:limit] + " ..."


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--tables", type=int, default=1000, help="tables of the many-tables schema")
    parser.add_argument("--out", help="also write the markdown table to this file")
    parser.add_argument("--only", help="comma-separated move or section names to run")
    parser.add_argument("--flow", default=os.environ.get("FLOW_BIN", "target/release/flow"))
    parser.add_argument("--skip-setup", action="store_true", help="reuse the tables of an earlier run (same --work)")
    parser.add_argument("--no-duckdb", action="store_true", help="leave DuckDB out")
    parser.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "flow-bench"),
                        help="directory for the SQLite, Parquet and .flow files")
    args = parser.parse_args()
    flow_bin = os.path.abspath(args.flow)
    work = os.path.abspath(args.work)
    os.makedirs(work, exist_ok=True)
    only = set(args.only.split(",")) if args.only else None
    ext = None if args.no_duckdb else peers.prepare_extensions(os.path.join(work, "duckdb-extensions"))
    rows_md, notes = [], []
    single = [n for n in MOVE_NAMES + ["scaling", "cluster", "whole-database"] if not only or n in only]
    volume = 0
    if single:
        sqlite_src = os.path.join(work, "source.db")
        volume_file = os.path.join(work, "volume.txt")
        if args.skip_setup:
            volume = int(open(volume_file).read())
        else:
            volume = setup(args.rows, sqlite_src)
            with open(volume_file, "w") as f:
                f.write(str(volume))
        rows_md, notes = single_table_moves(args, flow_bin, work, ext, only, volume)
    whole_md = []
    if not only or "whole-database" in only:
        whole_md += many_tables.whole_database(flow_bin, work)
    if not only or "many-tables" in only:
        whole_md += many_tables.run(flow_bin, work, ext, args.tables)
    out = f"Machine: {os.cpu_count()} cores; DuckDB {peers.DUCKDB_VERSION}; {many_tables.pgcopydb_version()}.\n\n"
    if rows_md:
        out += (
            f"Rows: {args.rows:,}; data volume (as CSV): {volume / 1e6:,.0f} MB.\n\n"
            "| move | flow s | flow rows/s | flow MB/s | flow peak RSS MiB | reference s | reference peak RSS MiB "
            "| DuckDB s | DuckDB peak RSS MiB | flow / reference | flow / DuckDB | flow / best peer | reference | DuckDB |\n"
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n" + "\n".join(rows_md) + "\n"
        )
    if whole_md:
        out += ("\n| whole database | flow s | flow peak RSS MiB | peer | peer s | peer peak RSS MiB | flow / peer | verified |\n"
                "|---|---|---|---|---|---|---|---|\n" + "\n".join(whole_md) + "\n")
    if notes:
        out += "\n" + "\n".join(f"- {n}" for n in notes) + "\n"
    print(out)
    if args.out:
        with open(args.out, "w") as f:
            f.write(out)


MOVE_NAMES = ["postgres->postgres", "postgres->postgres+transform", "mysql->postgres", "sqlite->postgres",
              "postgres->sqlite", "postgres->parquet", "postgres->mysql"]
PG_CONN = "host=127.0.0.1 port=5432 user=postgres dbname=flow_bench"
MY_CONN = "host=127.0.0.1 port=3306 user=root database=flow_bench"


def single_table_moves(args, flow_bin, work, ext, only, volume):
    sqlite_src = os.path.join(work, "source.db")
    pg = f'postgres("{PG_URL}")'
    my = f'mysql("{MY_URL}")'
    lite_src = f'sqlite("{sqlite_src}")'
    pg_sink = lambda t: (pg, f'dst.table("public.{t}")', "public.bench_orders")
    transform = ("transform t = s | filter status != 'cancelled' | derive total_cents = cast(total * 100 as bigint) "
                 "| rename created_at as ordered_at")
    select_transform = ("SELECT id, customer_id, status, total, created_at AS ordered_at, paid, note, weight, ship_date, "
                        "{cents} AS total_cents FROM {table} WHERE status <> 'cancelled'")
    ref_transform_sql = select_transform.format(cents="(total * 100)::bigint", table="bench_orders")

    def pg_like(target, ref, fallback=None):
        """The reference's target, created like Flow's (or like `fallback` when Flow failed; no
        reference is run when there is none)."""
        def prepare(flow_ok):
            like = target if flow_ok else fallback
            return like and f"{PSQL} -c 'DROP TABLE IF EXISTS {ref}; CREATE TABLE {ref} (LIKE {like})'"
        return prepare

    attach_pg = f"ATTACH '{PG_CONN}' AS src (TYPE postgres, READ_ONLY)"
    attach_pg_dst = f"ATTACH '{PG_CONN}' AS dst (TYPE postgres)"
    attach_my = f"ATTACH '{MY_CONN}' AS src (TYPE mysql, READ_ONLY)"
    attach_my_dst = f"ATTACH '{MY_CONN}' AS dst (TYPE mysql)"
    drop_pg = lambda t: f"{PSQL} -c 'DROP TABLE IF EXISTS {t}'"
    kept = args.rows - args.rows // 5  # the transform drops status 'cancelled', one row in five
    moves = [
        dict(name="postgres->postgres", flow=lambda f: flow_file(f, pg, pg_sink("bench_flow_pg")),
             kind="pg", flow_target="bench_flow_pg", baseline="bench_orders",
             prepare=pg_like("bench_flow_pg", "bench_ref_pg", "bench_orders"), ref_target="bench_ref_pg",
             reference=f"{PSQL} -c 'COPY bench_orders TO STDOUT (FORMAT binary)' | "
                       f"{PSQL} -c 'COPY bench_ref_pg FROM STDIN (FORMAT binary)'",
             expect=args.rows, desc="psql COPY binary \\| psql COPY binary",
             duck_target="bench_duck_pg", duck_prepare=drop_pg("bench_duck_pg"),
             duck=[attach_pg, attach_pg_dst, "CREATE TABLE dst.public.bench_duck_pg AS SELECT * FROM src.public.bench_orders"]),
        dict(name="postgres->postgres+transform", flow=lambda f: flow_file(f, pg, pg_sink("bench_flow_pgt"), transform),
             kind="pg", flow_target="bench_flow_pgt",
             prepare=pg_like("bench_flow_pgt", "bench_ref_pgt"), ref_target="bench_ref_pgt",
             reference=f"{PSQL} -c \"COPY ({ref_transform_sql}) TO STDOUT (FORMAT binary)\" | "
                       f"{PSQL} -c 'COPY bench_ref_pgt FROM STDIN (FORMAT binary)'",
             expect=kept, desc="psql COPY (SELECT ... WHERE ...) binary \\| psql COPY binary",
             duck_target="bench_duck_pgt", duck_prepare=drop_pg("bench_duck_pgt"),
             duck=[attach_pg, attach_pg_dst, "CREATE TABLE dst.public.bench_duck_pgt AS " +
                   select_transform.format(cents="CAST(total * 100 AS BIGINT)", table="src.public.bench_orders")]),
        dict(name="mysql->postgres",
             flow=lambda f: flow_file(f, my, (pg, 'dst.table("public.bench_flow_my")', "bench_orders")),
             kind="pg", flow_target="bench_flow_my",
             prepare=pg_like("bench_flow_my", "bench_ref_my", "bench_orders"), ref_target="bench_ref_my",
             reference=f"{MARIADB} --batch --raw --skip-column-names -e 'SELECT {COLUMNS} FROM bench_orders' | "
                       f"{PSQL} -c \"COPY bench_ref_my FROM STDIN (FORMAT text, NULL 'NULL')\"",
             expect=args.rows, desc="mariadb --batch \\| psql COPY text",
             duck_target="bench_duck_my", duck_prepare=drop_pg("bench_duck_my"),
             duck=[attach_my, attach_pg_dst, "CREATE TABLE dst.public.bench_duck_my AS SELECT * FROM src.bench_orders"]),
        dict(name="sqlite->postgres",
             flow=lambda f: flow_file(f, lite_src, (pg, 'dst.table("public.bench_flow_lite")', "bench_orders")),
             kind="pg", flow_target="bench_flow_lite", baseline="bench_orders",
             prepare=f"{PSQL} -c 'DROP TABLE IF EXISTS bench_ref_lite; CREATE TABLE bench_ref_lite (LIKE bench_orders)'",
             ref_target="bench_ref_lite",
             reference=f"sqlite3 -csv {shlex.quote(sqlite_src)} 'SELECT {COLUMNS} FROM bench_orders' | "
                       f"{PSQL} -c 'COPY bench_ref_lite FROM STDIN (FORMAT csv)'",
             # sqlite3 prints REAL with 15 significant digits, so `weight` may differ in the last ones.
             ref_cols=COLUMNS.replace(", weight", "").split(", "),
             expect=args.rows, desc="sqlite3 -csv \\| psql COPY csv into the source's types",
             duck_target="bench_duck_lite", duck_prepare=drop_pg("bench_duck_lite"),
             duck=[f"ATTACH '{sqlite_src}' AS src (TYPE sqlite, READ_ONLY)", attach_pg_dst,
                   "CREATE TABLE dst.public.bench_duck_lite AS SELECT * FROM src.bench_orders"]),
        dict(name="postgres->sqlite",
             flow=lambda f: flow_file(f, pg, (f'sqlite("{work}/flow.db")', 'dst.table("orders")', "public.bench_orders")),
             kind="sqlite", flow_target=f"{work}/flow.db",
             prepare=f"rm -f {work}/ref.db && sqlite3 {work}/ref.db 'CREATE TABLE orders (id INTEGER, customer_id INTEGER, "
                     "status TEXT, total TEXT, created_at TIMESTAMP, paid BOOLEAN, note TEXT, weight REAL, ship_date DATE)'",
             ref_target=f"{work}/ref.db",
             reference=f"{PSQL} -c 'COPY bench_orders TO STDOUT (FORMAT csv)' | sqlite3 {work}/ref.db '.import --csv /dev/stdin orders'",
             expect=args.rows, desc="psql COPY csv \\| sqlite3 .import",
             duck_target=f"{work}/duck.db", duck_prepare=f"rm -f {work}/duck.db",
             duck=[attach_pg, f"ATTACH '{work}/duck.db' AS dst (TYPE sqlite)",
                   "CREATE TABLE dst.orders AS SELECT * FROM src.public.bench_orders"]),
        dict(name="postgres->parquet",
             flow=lambda f: flow_file(f, pg, (f'parquet("{work}")', 'dst.table("flow")', "public.bench_orders")),
             kind="parquet", flow_target=f"{work}/flow.parquet",
             prepare="true", ref_target=f"{work}/ref.parquet",
             reference=f"{PSQL} -c 'COPY bench_orders TO STDOUT (FORMAT csv, HEADER)' | python3 -c "
                       f"\"import sys, pyarrow.csv as c, pyarrow.parquet as p; "
                       f"r = c.open_csv(sys.stdin.buffer); w = p.ParquetWriter('{work}/ref.parquet', r.schema, compression='zstd'); "
                       f"[w.write_batch(b) for b in r]; w.close()\"",
             expect=args.rows, desc="psql COPY csv \\| pyarrow streaming CSV to Parquet (zstd)",
             duck_target=f"{work}/duck.parquet", duck_prepare=f"rm -f {work}/duck.parquet",
             duck=[attach_pg, f"COPY (SELECT * FROM src.public.bench_orders) TO '{work}/duck.parquet' "
                              "(FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1)"],
             duck_desc="zstd level 1, as Flow"),
        dict(name="postgres->mysql",
             flow=lambda f: flow_file(f, pg, (my, 'dst.table("bench_flow_my")', "public.bench_orders")),
             kind="my", flow_target="bench_flow_my",
             prepare=lambda ok: f"{MARIADB} -e 'DROP TABLE IF EXISTS bench_ref_my; CREATE TABLE bench_ref_my LIKE "
                                f"{'bench_flow_my' if ok else 'bench_orders'}'",
             ref_target="bench_ref_my",
             reference=f"{PSQL} -c 'COPY (SELECT id, customer_id, status, total, created_at, paid::int, note, weight, "
                       f"ship_date FROM bench_orders) TO STDOUT' | "
                       f"{MARIADB} --local-infile=1 -e \"LOAD DATA LOCAL INFILE '/dev/stdin' INTO TABLE bench_ref_my\"",
             expect=args.rows, desc="psql COPY text \\| mariadb LOAD DATA LOCAL INFILE",
             duck_target="bench_duck_my", duck_prepare=f"{MARIADB} -e 'DROP TABLE IF EXISTS bench_duck_my'",
             duck=[attach_pg, attach_my_dst, "CREATE TABLE dst.bench_duck_my AS SELECT * FROM src.public.bench_orders"]),
    ]
    rows_md, notes = [], []
    for m in moves:
        name, kind = m["name"], m["kind"]
        if only and name not in only:
            continue
        print(f"{name}: flow ...", file=sys.stderr)
        file = m["flow"](os.path.join(work, f"{name.replace('->', '_to_').replace('+', '_')}.flow"))
        flow_s, flow_rss, flow_err = attempt(f"{shlex.quote(flow_bin)} run -q {shlex.quote(file)}")
        if flow_err is None:
            out = subprocess.run([flow_bin, "verify", file], capture_output=True, text=True)
            if out.returncode != 0:
                flow_s, flow_err = None, "flow verify: " + (out.stdout + out.stderr).strip()
        # Peers are checked against Flow's verified target, or against the source table when
        # Flow failed and the move has one that holds the same rows.
        base = m["flow_target"] if flow_err is None else m.get("baseline")
        if flow_err is not None:
            notes.append(f"{name}: Flow fails: `{first_line(flow_err)}`")
            print(f"{name}: flow failed: {flow_err}", file=sys.stderr)
        base_types = column_types(kind, base) if base else None

        def peer(label, prepare, cmd, target, cols=None):
            prepare = prepare(flow_err is None) if callable(prepare) else prepare
            if prepare is None:
                notes.append(f"{name}: the {label} is not run: its target is created like Flow's")
                return None, None, None, "not run"
            sh(prepare)
            print(f"{name}: {label} ...", file=sys.stderr)
            seconds, rss, err = attempt(cmd)
            if err is not None:
                notes.append(f"{name}: {label} fails: `{first_line(err)}`")
                return None, None, None, "fails"
            count, same = check_target(kind, base, target, cols) if base else (count_rows(kind, target), True)
            if count != m["expect"] or not same:
                sys.exit(f"{name}: the {label} target holds {count} rows (expected {m['expect']}), "
                         f"same rows as {base}: {same}")
            changes = type_changes(kind, base_types, column_types(kind, target)) if base_types else []
            return seconds, rss, changes, "ok"

        ref_s, ref_rss, _, ref_state = peer("reference", m["prepare"], m["reference"], m["ref_target"], m.get("ref_cols"))
        duck_s = duck_rss = None
        duck_note, duck_state = "-", "-"
        if ext:
            duck_s, duck_rss, changes, duck_state = peer("DuckDB", m["duck_prepare"], peers.duckdb_command(ext, *m["duck"]),
                                             m["duck_target"])
            if duck_s is not None:
                against = "Flow's" if flow_err is None else "the source's"
                if not base_types:
                    duck_note = "rows counted; types not compared (Flow failed)"
                elif changes:
                    duck_note = f"types differ from {against}: {'; '.join(changes)}"
                else:
                    duck_note = f"types as {against}"
                if m.get("duck_desc"):
                    duck_note = f"{m['duck_desc']}; {duck_note}"
        fmt = lambda v, state, spec="{:.2f}": state if v is None else spec.format(v)
        ratio = lambda a, b: "-" if a is None or b is None else f"{a / b:.2f}"
        best = min((v for v in (ref_s, duck_s) if v is not None), default=None)
        mb = volume / 1e6 if volume else float("nan")
        rate = "-" if flow_s is None else f"{m['expect'] / flow_s:,.0f}"
        mbs = "-" if flow_s is None else f"{mb / flow_s:,.1f}"
        rows_md.append(
            f"| {name} | {fmt(flow_s, 'fails')} | {rate} | {mbs} | {fmt(flow_rss, '-', '{:,.0f}')} | "
            f"{fmt(ref_s, ref_state)} | {fmt(ref_rss, '-', '{:,.0f}')} | "
            f"{fmt(duck_s, duck_state)} | {fmt(duck_rss, '-', '{:,.0f}')} | "
            f"{ratio(flow_s, ref_s)} | {ratio(flow_s, duck_s)} | **{ratio(flow_s, best)}** | {m['desc']} | {duck_note} |"
        )
        print(rows_md[-1], file=sys.stderr)
    pg = f'postgres("{PG_URL}")'
    # Scaling: the same PostgreSQL -> Parquet move with 1 and 2 partitions.
    if not only or "scaling" in only:
        times = {}
        for p in (1, 2):
            f = flow_file(os.path.join(work, f"scale{p}.flow"),
                          pg, (f'parquet("{work}")', f'dst.table("scale{p}")', "public.bench_orders"), parallelism=p, partitions=p)
            times[p] = timed(f"{shlex.quote(flow_bin)} run -q {shlex.quote(f)}")
            verify(flow_bin, f)
        rows_md.append(
            f"| postgres->parquet, 2 partitions vs 1 | {times[2][0]:.2f} | {args.rows / times[2][0]:,.0f} | "
            f"{(volume / 1e6) / times[2][0]:,.1f} | {times[2][1]:,.0f} | {times[1][0]:.2f} | {times[1][1]:,.0f} | - | - | "
            f"**{times[1][0] / times[2][0]:.2f}x faster** | - | - | the same with `partition ... into 1`, `parallelism 1` | - |"
        )
    # Cluster overhead: the same PostgreSQL -> Parquet move in this process, then on a Ballista
    # cluster of `flow scheduler` and one, then two, `flow executor` processes on loopback.
    if not only or "cluster" in only:
        rows_md.extend(cluster_rows(flow_bin, work, pg, args.rows, volume))
    return rows_md, notes


if __name__ == "__main__":
    main()
