#!/usr/bin/env bash
# The editor grammar's tests (test/tokenize.test.js), run by scripts/test.sh after the Rust tests.
# They need Node.js (18 or newer, for `node --test`) and npm. Without them this prints a reason and
# succeeds, unless FLOW_REQUIRE_TOOLS=1 (as in .ci/run), where a missing tool is a failure.
# `npm ci` runs only when node_modules is missing or was installed from another package-lock.json.
set -euo pipefail
cd "$(dirname "$0")"

missing() {
    if [[ "${FLOW_REQUIRE_TOOLS:-}" == 1 ]]; then
        echo "error: $1 (FLOW_REQUIRE_TOOLS=1)" >&2
        exit 1
    fi
    echo "skipped: $1"
    exit 0
}

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    missing "editor grammar tests need node and npm"
fi
if ! node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 18 ? 0 : 1)'; then
    missing "editor grammar tests need node 18 or newer (found $(node --version))"
fi

# npm ci empties node_modules first, so the stamp it leaves says which lock file it installed.
STAMP=node_modules/.flow-installed-package-lock.json
if ! cmp -s package-lock.json "$STAMP"; then
    npm ci --silent --no-audit --no-fund
    cp package-lock.json "$STAMP"
fi
npm test --silent
