#!/usr/bin/env bash
# The test command: every unit and integration test (one integration binary, tests/it/).
# Database tests talk to PostgreSQL (127.0.0.1:5432) and MariaDB (127.0.0.1:3306) and create the
# databases they need; without a server they skip with a printed reason, unless
# FLOW_REQUIRE_DBS=1 (then they fail). Builds into the same target directory as `cargo run`
# (`target/`, or $CARGO_TARGET_DIR when set), so the two README commands share one build.
# Then the editor grammar's tests (editors/vscode/test.sh): they need node and npm and skip with a
# printed reason without them, unless FLOW_REQUIRE_TOOLS=1 (then they fail).
set -euo pipefail
cd "$(dirname "$0")/.."
# Benchmarks are not part of the test run (benches/run.sh, cargo bench --bench micro).
cargo test --lib --bins --tests -- --test-threads 2
bash editors/vscode/test.sh
