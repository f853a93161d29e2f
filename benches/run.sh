#!/usr/bin/env bash
# The end-to-end benchmark suite, from a clean clone: starts PostgreSQL and MariaDB if they are
# down, installs what the references and peers need (sqlite3 and pgcopydb from Debian; pyarrow,
# DuckDB 1.5.5 and its postgres, mysql and sqlite extensions from PyPI), builds the release binary,
# then runs benches/e2e.py (Flow, a reference and DuckDB per move, pgcopydb and DuckDB for whole
# databases, every target verified, as markdown tables).
#
#   bash benches/run.sh                       # 2,000,000 rows, 1,000 tables
#   bash benches/run.sh --rows 10000000 --out bench.md
#   bash benches/run.sh --only postgres-\>postgres,scaling
#   bash benches/run.sh --only many-tables --tables 300     # default 1,000
#   FLOW_BIN=path/to/flow bash benches/run.sh              # time that binary; no release build
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/flow-target}"

bash scripts/start-databases.sh
missing=()
command -v sqlite3 >/dev/null || missing+=(sqlite3)
command -v pgcopydb >/dev/null || missing+=(pgcopydb)
if ((${#missing[@]})); then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
python3 -c 'import pyarrow' 2>/dev/null || python3 -m pip install -q pyarrow
DUCKDB=(duckdb==1.5.5 duckdb-extension-postgres==1.5.5 duckdb-extension-mysql==1.5.5 duckdb-extension-sqlite==1.5.5)
python3 - "${DUCKDB[@]}" <<'PY' 2>/dev/null || python3 -m pip install -q "${DUCKDB[@]}"
import importlib.metadata, sys
for spec in sys.argv[1:]:
    name, version = spec.split("==")
    assert importlib.metadata.version(name) == version
PY
mariadb -uroot -h 127.0.0.1 -e 'SET GLOBAL local_infile = 1'

if [[ -z "${FLOW_BIN:-}" ]]; then
    cargo build --release --quiet --bin flow
    FLOW_BIN="$CARGO_TARGET_DIR/release/flow"
fi
echo "timing $FLOW_BIN" >&2
FLOW_BIN="$FLOW_BIN" exec python3 benches/e2e.py "$@"
