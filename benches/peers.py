#!/usr/bin/env python3
"""The benchmark's peers: DuckDB 1.5.5 with its postgres, mysql and sqlite extensions, and pgcopydb.

DuckDB runs as `python3 benches/peers.py duckdb EXT_DIR postgres,sqlite SQL...` (one process per move, so wall
time and peak RSS are measured like Flow's), with the extensions loaded from the PyPI wheels'
files and nothing fetched: autoinstall and autoload are off. `python3 benches/peers.py
duckdb-loop EXT_DIR PG_CONN SQLITE_PATH` copies every table of a PostgreSQL database into a
SQLite file, `CREATE TABLE AS` per table in one transaction.
"""

import importlib.metadata
import os
import shutil
import sys

DUCKDB_VERSION = "1.5.5"
# wheel name -> the file name whose entry point (`NAME_duckdb_cpp_init`) the extension holds: the
# wheels ship `postgres.duckdb_extension` etc., which DuckDB refuses to LOAD under that name.
EXTENSIONS = {"postgres": "postgres_scanner", "mysql": "mysql_scanner", "sqlite": "sqlite_scanner"}


def prepare_extensions(directory):
    """Copies the extension files out of the installed wheels under the names DuckDB loads
    (`postgres_scanner.duckdb_extension`, ...) into `directory`; returns `directory`.
    Exits with the pip command to run when a wheel is missing or of another version."""
    os.makedirs(directory, exist_ok=True)
    for wheel, name in EXTENSIONS.items():
        dist = f"duckdb-extension-{wheel}"
        try:
            version = importlib.metadata.version(dist)
            files = importlib.metadata.distribution(dist).files or []
        except importlib.metadata.PackageNotFoundError:
            version, files = None, []
        found = [f for f in files if str(f).endswith(f"/{wheel}.duckdb_extension")]
        if version != DUCKDB_VERSION or not found:
            sys.exit(f"{dist}=={DUCKDB_VERSION} is not installed: python3 -m pip install {dist}=={DUCKDB_VERSION}")
        shutil.copyfile(found[0].locate(), os.path.join(directory, f"{name}.duckdb_extension"))
    return directory


def connect(ext_dir, wheels=tuple(EXTENSIONS)):
    """A DuckDB connection with the extensions of `wheels` ("postgres", "mysql", "sqlite") loaded."""
    import duckdb

    if duckdb.__version__ != DUCKDB_VERSION:
        sys.exit(f"duckdb {duckdb.__version__} is installed, the benchmark wants {DUCKDB_VERSION}")
    con = duckdb.connect(config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
    for wheel in wheels:
        con.execute(f"LOAD '{os.path.join(ext_dir, EXTENSIONS[wheel])}.duckdb_extension'")
    return con


def duckdb_command(ext_dir, *statements):
    """The shell command that runs `statements` in one fresh DuckDB process, which loads only the
    extensions their `ATTACH ... (TYPE NAME ...)` use (each costs 0.1-0.2 s to load)."""
    import shlex

    here = os.path.abspath(__file__)
    wheels = ",".join(w for w in EXTENSIONS if any(f"(TYPE {w}" in s for s in statements)) or "-"
    return " ".join(["python3", shlex.quote(here), "duckdb", shlex.quote(ext_dir), wheels, *map(shlex.quote, statements)])


def duckdb_loop_command(ext_dir, pg_conn, sqlite_path):
    import shlex

    here = os.path.abspath(__file__)
    return " ".join(["python3", shlex.quote(here), "duckdb-loop", *map(shlex.quote, (ext_dir, pg_conn, sqlite_path))])


def duckdb_loop(ext_dir, pg_conn, sqlite_path):
    """Every table of the PostgreSQL database's `public` schema into the SQLite file, one
    `CREATE TABLE AS` per table, all in one transaction (what a DuckDB user writes for this)."""
    con = connect(ext_dir, ("postgres", "sqlite"))
    con.execute(f"ATTACH '{pg_conn}' AS pg (TYPE postgres, READ_ONLY)")
    con.execute(f"ATTACH '{sqlite_path}' AS lite (TYPE sqlite)")
    tables = [r[0] for r in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = 'pg' AND schema_name = 'public' "
        "ORDER BY table_name").fetchall()]
    con.execute("BEGIN")
    for t in tables:
        con.execute(f'CREATE TABLE lite."{t}" AS SELECT * FROM pg.public."{t}"')
    con.execute("COMMIT")


def main():
    if len(sys.argv) >= 4 and sys.argv[1] == "duckdb":
        con = connect(sys.argv[2], [w for w in sys.argv[3].split(",") if w != "-"])
        for statement in sys.argv[4:]:
            con.execute(statement)
    elif len(sys.argv) == 5 and sys.argv[1] == "duckdb-loop":
        duckdb_loop(*sys.argv[2:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
