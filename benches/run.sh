#!/usr/bin/env bash
# The end-to-end benchmark suite, from a clean clone: starts PostgreSQL and MariaDB if they are
# down, installs what the references need (sqlite3, pyarrow), builds the release binary, then
# runs benches/e2e.py (Flow and a reference per move, verified, as a markdown table).
#
#   bash benches/run.sh                       # 2,000,000 rows
#   bash benches/run.sh --rows 10000000 --out bench.md
#   bash benches/run.sh --only postgres-\>postgres,scaling
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/flow-target}"

bash scripts/start-databases.sh
command -v sqlite3 >/dev/null || { apt-get update -qq && apt-get install -y -qq sqlite3; }
python3 -c 'import pyarrow' 2>/dev/null || python3 -m pip install -q pyarrow
mariadb -uroot -h 127.0.0.1 -e 'SET GLOBAL local_infile = 1'

cargo build --release --quiet --bin flow
FLOW_BIN="$CARGO_TARGET_DIR/release/flow" exec python3 benches/e2e.py "$@"
