#!/usr/bin/env bash
# The test command: every unit and integration test. Database tests need PostgreSQL and MariaDB
# (scripts/start-databases.sh); without them they skip, unless FLOW_REQUIRE_DBS=1.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/flow-target}"
# Benchmarks are not part of the test run (benches/run.sh, cargo bench --bench micro).
cargo test --lib --bins --tests -- --test-threads 2
