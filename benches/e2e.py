#!/usr/bin/env python3
"""End-to-end benchmarks: Flow beside the fastest plain path on this machine, in one run.

For each move (PostgreSQL -> PostgreSQL, MySQL -> PostgreSQL, ...) this times `flow run` (the
release binary) and a reference that does the same move with the databases' own tools (psql,
mariadb, sqlite3, and pyarrow where no database tool writes the format), measures wall time and
peak RSS (of the whole process tree, from wait4), verifies every target with `flow verify`
(row counts and a checksum over all columns, partition by partition; an unverified time is not
reported), and prints a markdown table with the ratio Flow / reference.

    benches/run.sh [--rows N] [--out FILE] [--only NAME[,NAME...]]

`--only scaling` and `--only cluster` run the partition-scaling and the cluster-overhead rows.

Data: a deterministic `orders` table (id bigint primary key, customer_id int, status text of 5
values, total numeric(12,2), created_at timestamp, paid boolean, note text ~30% NULL else 20-60
characters, weight double precision, ship_date date ~25% NULL), built in PostgreSQL, MariaDB and
SQLite from the same formulas.
"""

import argparse
import os
import shlex
import subprocess
import sys
import tempfile
import time

PG_URL = "postgres://postgres@127.0.0.1:5432/flow_bench"
MY_URL = "mysql://root@127.0.0.1:3306/flow_bench"
PSQL = "psql -X -q -h 127.0.0.1 -U postgres -d flow_bench -v ON_ERROR_STOP=1"
MARIADB = "mariadb -uroot -h 127.0.0.1 flow_bench"
COLUMNS = "id, customer_id, status, total, created_at, paid, note, weight, ship_date"


def sh(cmd, capture=False):
    """Runs a shell command (pipefail), failing loudly."""
    out = subprocess.run(["bash", "-o", "pipefail", "-c", cmd], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"command failed ({out.returncode}): {cmd}\n{out.stdout}{out.stderr}")
    return out.stdout if capture else None


def timed(cmd):
    """Wall seconds and peak RSS (MiB, the largest process of the tree) of a shell command."""
    start = time.perf_counter()
    proc = subprocess.Popen(["bash", "-o", "pipefail", "-c", cmd], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    err = proc.stderr.read().decode(errors="replace")
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"benchmark command failed: {cmd}\n{err}")
    return seconds, usage.ru_maxrss / 1024.0


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
    if os.path.exists(sqlite_path):
        os.remove(sqlite_path)
    sh(f"""sqlite3 {shlex.quote(sqlite_path)} <<'SQL'
CREATE TABLE bench_orders (id INTEGER PRIMARY KEY, customer_id INTEGER, status TEXT, total REAL,
  created_at TIMESTAMP, paid BOOLEAN, note TEXT, weight REAL, ship_date DATE);
WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < {rows})
INSERT INTO bench_orders
SELECT g, g * 7919 % 100000, CASE g % 5 WHEN 0 THEN 'new' WHEN 1 THEN 'paid' WHEN 2 THEN 'shipped' WHEN 3 THEN 'delivered' ELSE 'cancelled' END,
       round((g * 37 % 100000) / 100.0, 2), datetime('2020-01-01', '+' || (g * 17) || ' seconds'), g % 3 = 0,
       CASE WHEN g % 10 < 3 THEN NULL ELSE substr('abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz', 1, 20 + g % 41) END,
       (g % 1000) / 7.0, CASE WHEN g % 4 = 0 THEN NULL ELSE date('2020-01-01', '+' || (g % 2000) || ' days') END
FROM s;
SQL""")
    # The data volume every move carries: the table as CSV text.
    return int(sh(f"{PSQL} -c \"COPY bench_orders TO STDOUT (FORMAT csv)\" | wc -c", capture=True).strip())


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
            f"{(volume / 1e6) / seconds:,.1f} | {rss:,.0f} (client) | {local:.2f} | - | **{seconds / local:.2f}** | "
            f"`flow run` in one process, same file, 2 partitions |"
        )
        print(out[-1], file=sys.stderr)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--out", help="also write the markdown table to this file")
    parser.add_argument("--only", help="comma-separated move names to run")
    parser.add_argument("--flow", default=os.environ.get("FLOW_BIN", "target/release/flow"))
    parser.add_argument("--skip-setup", action="store_true", help="reuse the tables of an earlier run (same --work)")
    parser.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "flow-bench"),
                        help="directory for the SQLite, Parquet and .flow files")
    args = parser.parse_args()
    flow_bin = os.path.abspath(args.flow)
    work = os.path.abspath(args.work)
    os.makedirs(work, exist_ok=True)
    sqlite_src = os.path.join(work, "source.db")
    volume_file = os.path.join(work, "volume.txt")
    if args.skip_setup:
        volume = int(open(volume_file).read())
    else:
        volume = setup(args.rows, sqlite_src)
        with open(volume_file, "w") as f:
            f.write(str(volume))
    pg = f'postgres("{PG_URL}")'
    my = f'mysql("{MY_URL}")'
    lite_src = f'sqlite("{sqlite_src}")'
    pg_sink = lambda t: (pg, f'dst.table("public.{t}")', "public.bench_orders")
    transform = ("transform t = s | filter status != 'cancelled' | derive total_cents = cast(total * 100 as bigint) "
                 "| rename created_at as ordered_at")
    ref_transform_sql = ("SELECT id, customer_id, status, total, created_at AS ordered_at, paid, note, weight, ship_date, "
                         "(total * 100)::bigint AS total_cents FROM bench_orders WHERE status <> 'cancelled'")

    def pg_like(target, ref):
        return f"{PSQL} -c 'DROP TABLE IF EXISTS {ref}; CREATE TABLE {ref} (LIKE {target})'"

    def same_rows_pg(a, b, cols="*"):
        """The reference target holds exactly the rows of Flow's (verified) target."""
        out = sh(f"{PSQL} -At -c 'SELECT (SELECT count(*) FROM {b}), "
                 f"(SELECT count(*) FROM (SELECT {cols} FROM {a} EXCEPT ALL SELECT {cols} FROM {b}) x), "
                 f"(SELECT count(*) FROM (SELECT {cols} FROM {b} EXCEPT ALL SELECT {cols} FROM {a}) y)'", capture=True)
        count, missing, extra = (int(v) for v in out.strip().split("|"))
        return count, missing == 0 and extra == 0

    def same_rows_my(a, b):
        out = sh(f"{MARIADB} -N -e 'SELECT (SELECT count(*) FROM {b}), "
                 f"(SELECT count(*) FROM (SELECT * FROM {a} EXCEPT ALL SELECT * FROM {b}) x), "
                 f"(SELECT count(*) FROM (SELECT * FROM {b} EXCEPT ALL SELECT * FROM {a}) y)'", capture=True)
        count, missing, extra = (int(v) for v in out.split())
        return count, missing == 0 and extra == 0

    def count_sqlite(path):
        return int(sh(f"sqlite3 {path} 'SELECT count(*) FROM orders'", capture=True)), True

    def count_parquet(path):
        n = sh(f"python3 -c \"import pyarrow.parquet as p; print(p.ParquetFile('{path}').metadata.num_rows)\"", capture=True)
        return int(n), True

    kept = args.rows - args.rows // 5  # the transform drops status 'cancelled', one row in five
    moves = [
        dict(name="postgres->postgres", flow=lambda f: flow_file(f, pg, pg_sink("bench_flow_pg")),
             prepare=pg_like("bench_flow_pg", "bench_ref_pg"),
             reference=f"{PSQL} -c 'COPY bench_orders TO STDOUT (FORMAT binary)' | "
                       f"{PSQL} -c 'COPY bench_ref_pg FROM STDIN (FORMAT binary)'",
             check=lambda: same_rows_pg("bench_flow_pg", "bench_ref_pg"), expect=args.rows,
             desc="psql COPY binary \\| psql COPY binary"),
        dict(name="postgres->postgres+transform", flow=lambda f: flow_file(f, pg, pg_sink("bench_flow_pgt"), transform),
             prepare=pg_like("bench_flow_pgt", "bench_ref_pgt"),
             reference=f"{PSQL} -c \"COPY ({ref_transform_sql}) TO STDOUT (FORMAT binary)\" | "
                       f"{PSQL} -c 'COPY bench_ref_pgt FROM STDIN (FORMAT binary)'",
             check=lambda: same_rows_pg("bench_flow_pgt", "bench_ref_pgt"), expect=kept,
             desc="psql COPY (SELECT ... WHERE ...) binary \\| psql COPY binary"),
        dict(name="mysql->postgres",
             flow=lambda f: flow_file(f, my, (pg, 'dst.table("public.bench_flow_my")', "bench_orders")),
             prepare=pg_like("bench_flow_my", "bench_ref_my"),
             reference=f"{MARIADB} --batch --raw --skip-column-names -e 'SELECT {COLUMNS} FROM bench_orders' | "
                       f"{PSQL} -c \"COPY bench_ref_my FROM STDIN (FORMAT text, NULL 'NULL')\"",
             check=lambda: same_rows_pg("bench_flow_my", "bench_ref_my"), expect=args.rows,
             desc="mariadb --batch \\| psql COPY text"),
        dict(name="sqlite->postgres",
             flow=lambda f: flow_file(f, lite_src, (pg, 'dst.table("public.bench_flow_lite")', "bench_orders")),
             prepare=pg_like("bench_flow_lite", "bench_ref_lite"),
             reference=f"sqlite3 -csv {shlex.quote(sqlite_src)} 'SELECT {COLUMNS} FROM bench_orders' | "
                       f"{PSQL} -c 'COPY bench_ref_lite FROM STDIN (FORMAT csv)'",
             # sqlite3 prints REAL with 15 significant digits, so `weight` may differ in the last ones.
             check=lambda: same_rows_pg("bench_flow_lite", "bench_ref_lite", COLUMNS.replace(", weight", "")),
             expect=args.rows,
             desc="sqlite3 -csv \\| psql COPY csv"),
        dict(name="postgres->sqlite",
             flow=lambda f: flow_file(f, pg, (f'sqlite("{work}/flow.db")', 'dst.table("orders")', "public.bench_orders")),
             prepare=f"rm -f {work}/ref.db && sqlite3 {work}/ref.db 'CREATE TABLE orders (id INTEGER, customer_id INTEGER, "
                     "status TEXT, total TEXT, created_at TIMESTAMP, paid BOOLEAN, note TEXT, weight REAL, ship_date DATE)'",
             reference=f"{PSQL} -c 'COPY bench_orders TO STDOUT (FORMAT csv)' | sqlite3 {work}/ref.db '.import --csv /dev/stdin orders'",
             check=lambda: count_sqlite(f"{work}/ref.db"), expect=args.rows,
             desc="psql COPY csv \\| sqlite3 .import"),
        dict(name="postgres->parquet",
             flow=lambda f: flow_file(f, pg, (f'parquet("{work}")', 'dst.table("flow")', "public.bench_orders")),
             prepare="true",
             reference=f"{PSQL} -c 'COPY bench_orders TO STDOUT (FORMAT csv, HEADER)' | python3 -c "
                       f"\"import sys, pyarrow.csv as c, pyarrow.parquet as p; "
                       f"r = c.open_csv(sys.stdin.buffer); w = p.ParquetWriter('{work}/ref.parquet', r.schema, compression='zstd'); "
                       f"[w.write_batch(b) for b in r]; w.close()\"",
             check=lambda: count_parquet(f"{work}/ref.parquet"), expect=args.rows,
             desc="psql COPY csv \\| pyarrow streaming CSV to Parquet (zstd)"),
        dict(name="postgres->mysql",
             flow=lambda f: flow_file(f, pg, (my, 'dst.table("bench_flow_my")', "public.bench_orders")),
             prepare=f"{MARIADB} -e 'DROP TABLE IF EXISTS bench_ref_my; CREATE TABLE bench_ref_my LIKE bench_flow_my'",
             reference=f"{PSQL} -c 'COPY (SELECT id, customer_id, status, total, created_at, paid::int, note, weight, "
                       f"ship_date FROM bench_orders) TO STDOUT' | "
                       f"{MARIADB} --local-infile=1 -e \"LOAD DATA LOCAL INFILE '/dev/stdin' INTO TABLE bench_ref_my\"",
             check=lambda: same_rows_my("bench_flow_my", "bench_ref_my"), expect=args.rows,
             desc="psql COPY text \\| mariadb LOAD DATA LOCAL INFILE"),
    ]
    only = set(args.only.split(",")) if args.only else None
    rows_md = []
    for m in moves:
        name = m["name"]
        if only and name not in only:
            continue
        print(f"{name}: flow ...", file=sys.stderr)
        file = m["flow"](os.path.join(work, f"{name.replace('->', '_to_').replace('+', '_')}.flow"))
        flow_s, flow_rss = timed(f"{shlex.quote(flow_bin)} run -q {shlex.quote(file)}")
        verify(flow_bin, file)
        sh(m["prepare"])
        print(f"{name}: reference ...", file=sys.stderr)
        ref_s, ref_rss = timed(m["reference"])
        count, same = m["check"]()
        if count != m["expect"] or not same:
            sys.exit(f"{name}: the reference target holds {count} rows (expected {m['expect']}), same rows as flow: {same}")
        mb = volume / 1e6 if volume else float("nan")
        rows_md.append(
            f"| {name} | {flow_s:.2f} | {m['expect'] / flow_s:,.0f} | {mb / flow_s:,.1f} | {flow_rss:,.0f} | "
            f"{ref_s:.2f} | {ref_rss:,.0f} | **{flow_s / ref_s:.2f}** | {m['desc']} |"
        )
        print(rows_md[-1], file=sys.stderr)
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
            f"{(volume / 1e6) / times[2][0]:,.1f} | {times[2][1]:,.0f} | {times[1][0]:.2f} | {times[1][1]:,.0f} | "
            f"**{times[1][0] / times[2][0]:.2f}x faster** | the same with `partition ... into 1`, `parallelism 1` |"
        )
    # Cluster overhead: the same PostgreSQL -> Parquet move in this process, then on a Ballista
    # cluster of `flow scheduler` and one, then two, `flow executor` processes on loopback.
    if not only or "cluster" in only:
        rows_md.extend(cluster_rows(flow_bin, work, pg, args.rows, volume))
    header = (
        f"Rows: {args.rows:,}; data volume (as CSV): {volume / 1e6:,.0f} MB; machine: {os.cpu_count()} cores.\n\n"
        "| move | flow s | flow rows/s | flow MB/s | flow peak RSS MiB | reference s | reference peak RSS MiB "
        "| flow / reference | reference |\n|---|---|---|---|---|---|---|---|---|\n"
    )
    table = header + "\n".join(rows_md) + "\n"
    print(table)
    if args.out:
        with open(args.out, "w") as f:
            f.write(table)


if __name__ == "__main__":
    main()
