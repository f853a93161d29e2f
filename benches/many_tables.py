"""Whole databases: `flow copy --all-tables` beside pgcopydb's `clone` and DuckDB's loop.

`--only whole-database`: the 2,000,000-row orders table (with its primary key and an index) alone in
a database `flow_whole`, copied PostgreSQL -> PostgreSQL by Flow and by `pgcopydb clone`.

`--only many-tables`: a database `flow_many` of N tables (`--tables N`, default 1,000; 100-1,000
rows each, a primary key and an index on every table, a foreign key to the previous table on every
third) in PostgreSQL and the same schema in MariaDB, then planning alone (`flow check` and `flow
explain` of the .flow file `flow copy --all-tables --emit` writes, PostgreSQL -> PostgreSQL,
MariaDB -> PostgreSQL and PostgreSQL -> SQLite), PostgreSQL -> PostgreSQL (`flow copy --all-tables`
against `pgcopydb clone --table-jobs 2`, each into a fresh database), MariaDB -> PostgreSQL (Flow
alone) and PostgreSQL -> SQLite (against DuckDB, `CREATE TABLE AS` per table in one transaction).
Every target is checked: every source table is there with its row count and, in PostgreSQL, the
same rows (an md5 of each table's rows in id order) and the same numbers of primary keys, foreign
keys and indexes.

Run on its own, it times planning only (no peers), with any `flow` binary:

    python3 benches/many_tables.py --flow target/debug/flow --tables 1000 --prefix tables_many

`--prefix` names the databases (`PREFIX`, `PREFIX_flow` in both servers), so that runs beside other
work on shared servers do not clash.
"""

import os
import shlex
import shutil
import sqlite3
import subprocess
import sys

import peers
from common import sh, timed

PG = "postgres://postgres@127.0.0.1:5432"


def psql(db, sql):
    """Runs SQL in database `db`; returns its unaligned output (`|`-separated)."""
    return sh(f"psql -X -q -At -F '|' -h 127.0.0.1 -U postgres -d {db} -v ON_ERROR_STOP=1 <<'SQL'\n{sql}\nSQL", True)


def pgcopydb_version():
    if not shutil.which("pgcopydb"):
        return "pgcopydb not installed"
    out = subprocess.run(["pgcopydb", "--version"], capture_output=True, text=True)
    line = next((l for l in (out.stdout + out.stderr).splitlines() if "pgcopydb version" in l), "pgcopydb ?")
    return line[line.index("pgcopydb version"):].replace(" version", "")


def fresh_db(name):
    psql("postgres", f"DROP DATABASE IF EXISTS {name} WITH (FORCE);\nCREATE DATABASE {name};")


def mariadb(db, sql):
    """Runs SQL in MariaDB database `db` (empty: none), sent on stdin (a script of many tables is
    longer than a command line may be)."""
    out = subprocess.run(["mariadb", "-uroot", "-h", "127.0.0.1"] + ([db] if db else []), input=sql,
                         capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"mariadb failed ({out.returncode}): {out.stderr}")


def build_many_mariadb(db, tables):
    """The schema of `build_many` in MariaDB database `db`, with the same rows (the sequence
    engine's `seq_1_to_N` in place of generate_series)."""
    print(f"preparing {tables} tables in MariaDB database {db} ...", file=sys.stderr)
    mariadb("", f"DROP DATABASE IF EXISTS {db}; CREATE DATABASE {db};")
    statements = []
    for i in range(1, tables + 1):
        t, prev = f"t{i:04d}", f"t{i - 1:04d}"
        fk = f", FOREIGN KEY (parent_id) REFERENCES {prev} (id)" if i % 3 == 0 else ""
        rows = 100 + (i * 7919) % 901
        statements.append(
            f"CREATE TABLE {t} (id bigint PRIMARY KEY, parent_id bigint, name text NOT NULL, amount decimal(12,2), "
            f"created_at datetime(6), active boolean, INDEX {t}_created_at (created_at){fk});\n"
            f"INSERT INTO {t} SELECT seq, seq % 100 + 1, CONCAT('name ', seq), (seq * 37 % 100000) / 100.0, "
            f"TIMESTAMP '2020-01-01 00:00:00' + INTERVAL seq MINUTE, seq % 2 = 0 FROM seq_1_to_{rows};")
    statements.append("ANALYZE TABLE " + ", ".join(f"t{i:04d}" for i in range(1, tables + 1)) + ";")
    mariadb(db, "SET FOREIGN_KEY_CHECKS = 0;\n" + "\n".join(statements))


def build_many(db, tables):
    """N tables t0001.. of 100-1,000 rows: id bigint primary key, parent_id (a foreign key to the
    previous table on every third), name, amount numeric(12,2), created_at, active; an index on
    created_at."""
    print(f"preparing {tables} tables in PostgreSQL database {db} ...", file=sys.stderr)
    fresh_db(db)
    psql(db, f"""DO $$
DECLARE
  t text; prev text; fk text;
BEGIN
  FOR i IN 1..{tables} LOOP
    t := format('t%s', lpad(i::text, 4, '0'));
    prev := format('t%s', lpad((i - 1)::text, 4, '0'));
    fk := CASE WHEN i % 3 = 0 THEN format(' REFERENCES %I (id)', prev) ELSE '' END;
    EXECUTE format('CREATE TABLE %I (id bigint PRIMARY KEY, parent_id bigint%s, name text NOT NULL, '
                   'amount numeric(12,2), created_at timestamp, active boolean)', t, fk);
    EXECUTE format('INSERT INTO %I SELECT g, g %% 100 + 1, ''name '' || g, (g * 37 %% 100000) / 100.0, '
                   'timestamp ''2020-01-01'' + g * interval ''1 minute'', g %% 2 = 0 '
                   'FROM generate_series(1, %s) g', t, 100 + (i * 7919) % 901);
    EXECUTE format('CREATE INDEX %I ON %I (created_at)', t || '_created_at', t);
  END LOOP;
END $$;
VACUUM ANALYZE;""")


def pg_summary(db, tables=None):
    """{table: (rows, md5 of its rows in id order)} of the public schema, and the numbers of
    primary keys, foreign keys and indexes there. `tables` limits both to those tables (Flow's
    `_flow_ledger` is left out)."""
    only = "" if tables is None else "AND table_name IN (" + ", ".join(f"'{t}'" for t in tables) + ")"
    out = psql(db, f"""SELECT table_name,
  (xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM public.%I', table_name), false, true, '')))[1]::text,
  (xpath('/row/m/text()', query_to_xml(format('SELECT md5(string_agg(x::text, E''\\n'' ORDER BY x.id)) AS m FROM public.%I x',
    table_name), false, true, '')))[1]::text
FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' {only};""")
    rows = {}
    for line in out.splitlines():
        name, count, digest = line.split("|")
        rows[name] = (int(count), digest)
    on = "" if tables is None else "AND c.conrelid::regclass::text IN (" + ", ".join(f"'{t}'" for t in tables) + ")"
    on_index = "" if tables is None else "AND tablename IN (" + ", ".join(f"'{t}'" for t in tables) + ")"
    constraints = "FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = 'public'"
    keys = psql(db, f"SELECT (SELECT count(*) {constraints} AND contype = 'p' {on}), "
                    f"(SELECT count(*) {constraints} AND contype = 'f' {on}), "
                    f"(SELECT count(*) FROM pg_indexes WHERE schemaname = 'public' {on_index});").strip().split("|")
    return rows, tuple(int(k) for k in keys)


def sqlite_summary(path):
    with sqlite3.connect(path) as con:
        names = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {n: (con.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0], None) for n in names}


def check(label, source, target, source_keys=None, target_keys=None):
    """Every source table is in the target with its row count (else exit); says what else matches."""
    missing = [t for t in source if t not in target]
    wrong = [t for t in source if t in target and target[t][0] != source[t][0]]
    if missing or wrong:
        sys.exit(f"{label}: {len(missing)} tables missing (e.g. {missing[:3]}), {len(wrong)} with other row counts "
                 f"(e.g. {[(t, source[t][0], target[t][0]) for t in wrong[:3]]})")
    rows = sum(c for c, _ in source.values())
    text = f"{len(source):,} tables, {rows:,} rows"
    if all(d is not None for _, d in target.values()):
        differ = [t for t in source if target[t][1] != source[t][1]]
        text += ", same rows" if not differ else f", rows differ in {len(differ)} tables (e.g. {differ[0]})"
    if target_keys is not None:
        names = ("primary keys", "foreign keys", "indexes")
        text += "; " + ", ".join(f"{t} of {s} {n}" if t != s else f"{t} {n}"
                                 for n, s, t in zip(names, source_keys, target_keys))
    return text


def row(move, flow, peer_name, peer, verified):
    f_s, f_rss = flow if flow else (None, None)
    p_s, p_rss = peer if peer else (None, None)
    fmt = lambda v, spec: "-" if v is None else spec.format(v)
    ratio = f"**{f_s / p_s:.2f}**" if f_s and p_s else "-"
    line = (f"| {move} | {fmt(f_s, '{:.2f}')} | {fmt(f_rss, '{:,.0f}')} | {peer_name} | {fmt(p_s, '{:.2f}')} | "
            f"{fmt(p_rss, '{:,.0f}')} | {ratio} | {verified} |")
    print(line, file=sys.stderr)
    return line


def pgcopydb_clone(work, source_db, target_db):
    """`pgcopydb clone --table-jobs 2` into a fresh database: (seconds, rss)."""
    fresh_db(target_db)
    workdir = os.path.join(work, "pgcopydb")
    shutil.rmtree(workdir, ignore_errors=True)
    return timed(f"pgcopydb clone --source {PG}/{source_db} --target {PG}/{target_db} --table-jobs 2 "
                 f"--dir {shlex.quote(workdir)}")


def whole_database(flow_bin, work):
    """The orders table alone in a database: `flow copy --all-tables` against `pgcopydb clone`."""
    print("whole-database: preparing flow_whole ...", file=sys.stderr)
    fresh_db("flow_whole")
    psql("flow_whole", "CREATE TABLE bench_orders (id bigint NOT NULL, customer_id integer, status text, "
                       "total numeric(12,2), created_at timestamp, paid boolean, note text, weight double precision, "
                       "ship_date date);")
    sh("psql -X -q -h 127.0.0.1 -U postgres -d flow_bench -c 'COPY bench_orders TO STDOUT (FORMAT binary)' | "
       "psql -X -q -h 127.0.0.1 -U postgres -d flow_whole -v ON_ERROR_STOP=1 -c 'COPY bench_orders FROM STDIN (FORMAT binary)'")
    psql("flow_whole", "ALTER TABLE bench_orders ADD PRIMARY KEY (id);\n"
                       "CREATE INDEX bench_orders_customer ON bench_orders (customer_id);\nVACUUM ANALYZE bench_orders;")
    source, keys = pg_summary("flow_whole")
    out = []
    fresh_db("flow_whole_flow")
    print("whole-database: flow ...", file=sys.stderr)
    flow = timed(f"{shlex.quote(flow_bin)} copy {PG}/flow_whole {PG}/flow_whole_flow --all-tables -q")
    flow_verified = check("flow copy", source, *pg_summary("flow_whole_flow", source), keys)
    print("whole-database: pgcopydb ...", file=sys.stderr)
    peer = pgcopydb_clone(work, "flow_whole", "flow_whole_pgcopydb")
    peer_verified = check("pgcopydb", source, *pg_summary("flow_whole_pgcopydb", source), keys)
    rows = source["bench_orders"][0]
    out.append(row(f"postgres->postgres, 1 table of {rows:,} rows, `--all-tables`", flow, "pgcopydb clone --table-jobs 2",
                   peer, f"Flow: {flow_verified}; pgcopydb: {peer_verified}"))
    return out


MY = "mysql://root@127.0.0.1:3306"


def planning(flow_bin, work, tables, prefix):
    """`flow check` and `flow explain` of the file `flow copy --all-tables --emit` writes, for
    PostgreSQL -> PostgreSQL, MariaDB -> PostgreSQL and PostgreSQL -> SQLite, against a fresh
    target (the sources `PREFIX` must exist): one row each, seconds and peak RSS."""
    flow_q = shlex.quote(flow_bin)
    fresh_db(f"{prefix}_flow")
    sqlite_target = os.path.join(work, f"{prefix}_plan.db")
    moves = [("postgres->postgres", f"{PG}/{prefix}", f"{PG}/{prefix}_flow"),
             ("mysql->postgres", f"{MY}/{prefix}", f"{PG}/{prefix}_flow"),
             ("postgres->sqlite", f"{PG}/{prefix}", f"sqlite://{sqlite_target}")]
    out = []
    for move, src, dst in moves:
        file = os.path.join(work, f"{prefix}_{move.replace('->', '_to_')}.flow")
        sh(f"{flow_q} copy {src} {shlex.quote(dst)} --all-tables --emit > {shlex.quote(file)}")
        for command in ("check", "explain"):
            print(f"many-tables: flow {command}, {move} ...", file=sys.stderr)
            took = timed(f"{flow_q} {command} {shlex.quote(file)}")
            out.append(row(f"`flow {command}` of `flow copy --all-tables --emit`, {move}, {tables} tables", took, "-",
                           None, f"{took[0] / tables * 1000:.1f} ms per table"))
    return out


def run(flow_bin, work, ext, tables, prefix="flow_many"):
    build_many(prefix, tables)
    build_many_mariadb(prefix, tables)
    source, keys = pg_summary(prefix)
    src = f"{PG}/{prefix}"
    out = planning(flow_bin, work, tables, prefix)
    flow_q = shlex.quote(flow_bin)

    print("many-tables: postgres->postgres flow ...", file=sys.stderr)
    fresh_db(f"{prefix}_flow")
    flow = timed(f"{flow_q} copy {src} {PG}/{prefix}_flow --all-tables -q")
    flow_verified = check("flow copy", source, *pg_summary(f"{prefix}_flow", source), keys)
    print("many-tables: postgres->postgres pgcopydb ...", file=sys.stderr)
    peer = pgcopydb_clone(work, prefix, f"{prefix}_pgcopydb")
    peer_verified = check("pgcopydb", source, *pg_summary(f"{prefix}_pgcopydb", source), keys)
    out.append(row(f"postgres->postgres, {tables} tables, keys and indexes", flow, "pgcopydb clone --table-jobs 2",
                   peer, f"Flow: {flow_verified}; pgcopydb: {peer_verified}"))

    print("many-tables: mysql->postgres flow ...", file=sys.stderr)
    fresh_db(f"{prefix}_flow")
    flow = timed(f"{flow_q} copy {MY}/{prefix} {PG}/{prefix}_flow --all-tables -q")
    flow_verified = check("flow copy", {t: (c, None) for t, (c, _) in source.items()},
                          {t: (c, None) for t, (c, _) in pg_summary(f"{prefix}_flow", source)[0].items()})
    out.append(row(f"mysql->postgres, {tables} tables, keys and indexes", flow, "-", None, f"Flow: {flow_verified}"))

    flow_db, duck_db = os.path.join(work, f"{prefix}_flow.db"), os.path.join(work, f"{prefix}_duck.db")
    for path in (flow_db, duck_db):
        if os.path.exists(path):
            os.remove(path)
    print("many-tables: postgres->sqlite flow ...", file=sys.stderr)
    flow = timed(f"{flow_q} copy {src} sqlite://{shlex.quote(flow_db)} --all-tables -q")
    flow_verified = check("flow copy", source, sqlite_summary(flow_db))
    peer, peer_verified = None, "DuckDB left out"
    if ext:
        print("many-tables: postgres->sqlite DuckDB ...", file=sys.stderr)
        peer = timed(peers.duckdb_loop_command(ext, f"host=127.0.0.1 port=5432 user=postgres dbname={prefix}", duck_db))
        peer_verified = check("DuckDB", source, sqlite_summary(duck_db))
    out.append(row(f"postgres->sqlite, {tables} tables", flow, "DuckDB, `CREATE TABLE AS` per table, one transaction",
                   peer, f"Flow: {flow_verified}; DuckDB: {peer_verified}"))
    return out


def main():
    import argparse
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--flow", default=os.environ.get("FLOW_BIN", "target/release/flow"))
    parser.add_argument("--tables", type=int, default=1000)
    parser.add_argument("--prefix", default="flow_many", help="names of the databases made (PREFIX, PREFIX_flow)")
    parser.add_argument("--skip-setup", action="store_true", help="reuse the source databases of an earlier run")
    parser.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "flow-bench"))
    args = parser.parse_args()
    os.makedirs(args.work, exist_ok=True)
    if not args.skip_setup:
        build_many(args.prefix, args.tables)
        build_many_mariadb(args.prefix, args.tables)
    lines = planning(os.path.abspath(args.flow), args.work, args.tables, args.prefix)
    print("| planning | flow s | flow peak RSS MiB | peer | peer s | peer peak RSS MiB | flow / peer | note |\n"
          "|---|---|---|---|---|---|---|---|\n" + "\n".join(lines))


if __name__ == "__main__":
    main()
