#!/usr/bin/env bash
# The public HTTP caching conformance suite (https://github.com/http-tests/cache-tests, the
# suite behind cache-tests.fyi) run against `paca serve`: the suite's own origin, paca in front
# of it with one catch-all route and no TTL of its own (Cache-Control decides, as in a plain
# RFC 9111 shared cache), and the suite's client sending every test through paca. Prints the
# counts by kind (required, optimal, check) graded by the suite's own code, and each test that
# did not pass; writes the raw results to $OUT_DIR. Exits 1 when a required test fails.
#
#   swift build -c release && bench/cache-tests.sh
#   CACHE_TESTS_DIR=/path/to/cache-tests bench/cache-tests.sh     # an existing checkout (offline)
#
# Without CACHE_TESTS_DIR the suite is cloned (CACHE_TESTS_REF, default its main branch) into
# $OUT_DIR/cache-tests and its npm dependencies installed: that needs the network. Node 18 or
# later. Every process started here is stopped by PID on exit; everything listens on 127.0.0.1.
set -euo pipefail

cd "$(dirname "$0")/.."
PACA=${PACA:-.build/release/paca}
OUT_DIR=${OUT_DIR:-bench/out}
SUITE=${CACHE_TESTS_DIR:-$OUT_DIR/cache-tests}
REF=${CACHE_TESTS_REF:-}
TEST_ID=${TEST_ID:-}              # run one test only (its id), e.g. freshness-max-age
ROUTE_EXTRA=${ROUTE_EXTRA:-}      # more fields of the route, e.g. '"stale_if_unreachable": "1h"'
MAX_SECONDS=${MAX_SECONDS:-600}   # the suite's client is stopped after this long

die() { echo "cache-tests.sh: $*" >&2; exit 2; }
command -v python3 >/dev/null || die "python3 is needed (free ports)"
command -v curl >/dev/null || die "curl is needed"
[[ -x $PACA ]] || die "paca binary not found at $PACA: build it with 'swift build -c release --product paca'"
command -v node >/dev/null || die "node (18 or later) is needed: apt-get install -y nodejs npm"
node -e 'process.exit(parseInt(process.versions.node) >= 18 ? 0 : 1)' || die "node 18 or later is needed (found $(node --version))"
mkdir -p "$OUT_DIR"

if [[ ! -f $SUITE/test-engine/cli.mjs ]]; then
    [[ -n ${CACHE_TESTS_DIR:-} ]] && die "$SUITE is not a cache-tests checkout (no test-engine/cli.mjs)"
    command -v git >/dev/null || die "git is needed to clone the suite"
    echo "cloning https://github.com/http-tests/cache-tests into $SUITE"
    git clone -q ${REF:+--branch "$REF"} --depth 1 https://github.com/http-tests/cache-tests "$SUITE" \
        || die "could not clone the suite (offline? set CACHE_TESTS_DIR to a checkout)"
fi
if [[ ! -d $SUITE/node_modules ]]; then
    (cd "$SUITE" && npm install --omit=dev --no-audit --no-fund >/dev/null) || die "npm install failed in $SUITE"
fi
SUITE=$(cd "$SUITE" && pwd)
# Its own commit, not that of a repository it happens to sit in.
suite_version=unversioned
[[ -e $SUITE/.git ]] && suite_version=$(git -C "$SUITE" rev-parse --short HEAD 2>/dev/null || echo unversioned)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/paca-cache-tests.XXXXXX")
source bench/lib.sh
OUT_DIR=$(cd "$OUT_DIR" && pwd)

# The suite's server listens on every address; this preload keeps it on 127.0.0.1.
cat >"$tmp/localhost.cjs" <<'EOF'
const net = require('net')
const listen = net.Server.prototype.listen
net.Server.prototype.listen = function (...args) {
  if ((typeof args[0] === 'number' || typeof args[0] === 'string') && (args.length === 1 || typeof args[1] === 'function')) {
    args.splice(1, 0, '127.0.0.1')
  }
  return listen.apply(this, args)
}
EOF

ORIGIN_PORT=$(free_port)
(cd "$SUITE" && exec env npm_config_protocol=http npm_config_port="$ORIGIN_PORT" npm_config_pidfile="$tmp/origin.pid" \
    node -r "$tmp/localhost.cjs" test-engine/server/server.mjs) >"$tmp/origin.log" 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$ORIGIN_PORT/state/none"

PACA_PORT=$(free_port)
ADMIN_PORT=$(free_port)
cat >"$tmp/routes.json" <<EOF
{
  "listen": "127.0.0.1:$PACA_PORT",
  "admin": { "listen": "127.0.0.1:$ADMIN_PORT" },
  "storage": { "l1": { "max_bytes": "100MB" } },
  "routes": [ { "name": "conformance", "match": "/*", "origin": "http://127.0.0.1:$ORIGIN_PORT"${ROUTE_EXTRA:+, $ROUTE_EXTRA} } ]
}
EOF
"$PACA" serve --config "$tmp/routes.json" >"$tmp/paca.log" 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$ADMIN_PORT/stats"
wait_for "http://127.0.0.1:$PACA_PORT/paca-ready"

if [[ -n $TEST_ID ]]; then
    # One test: the suite's client prints each request and response, and the verdict.
    status=0
    (cd "$SUITE" && env npm_config_base="http://127.0.0.1:$PACA_PORT" npm_config_id="$TEST_ID" \
        timeout "$MAX_SECONDS" node --no-warnings test-engine/cli.mjs) || status=$?
    exit $status
fi

stamp=$(date -u +%Y%m%dT%H%M%SZ)
RESULTS=$OUT_DIR/cache-tests-$stamp.json
echo "cache-tests $suite_version against paca on 127.0.0.1:$PACA_PORT (origin 127.0.0.1:$ORIGIN_PORT)"
(cd "$SUITE" && env npm_config_base="http://127.0.0.1:$PACA_PORT" npm_config_id= npm_package_config_id= \
    timeout "$MAX_SECONDS" node --no-warnings test-engine/cli.mjs) >"$RESULTS" 2>"$tmp/cli.log" \
    || { cat "$tmp/cli.log" >&2; die "the suite's client failed"; }

# Graded by the suite's own code (what cache-tests.fyi shows): a test whose dependency did not
# pass is "dependency failed", a failed setup step is "setup fail", not a failure.
cat >"$tmp/grade.mjs" <<'EOF'
import fs from 'fs'
const [suite, file] = process.argv.slice(2)
const { default: tests } = await import(`${suite}/tests/index.mjs`)
const { determineTestResult, resultTypes } = await import(`${suite}/test-engine/lib/results.mjs`)
const results = JSON.parse(fs.readFileSync(file, 'utf8'))
const names = Object.fromEntries(Object.entries(resultTypes).map(([name, type]) => [type[2], name]))
const counts = {}
const notPassed = []
for (const group of tests) {
  for (const test of group.tests) {
    if (test.browser_only || !(test.id in results)) continue
    const kind = test.kind || 'required'
    const outcome = names[determineTestResult(tests, test.id, results, true)[2]]
    counts[kind] ??= {}
    counts[kind][outcome] = (counts[kind][outcome] || 0) + 1
    if (!['pass', 'yes'].includes(outcome)) notPassed.push({ kind, outcome, id: test.id, name: test.name, result: results[test.id] })
  }
}
for (const kind of Object.keys(counts).sort()) {
  console.log(`${kind.padEnd(9)} ${Object.entries(counts[kind]).map(([outcome, n]) => `${outcome} ${n}`).join(', ')}`)
}
console.log('\nnot passed:')
for (const t of notPassed.sort((a, b) => a.kind.localeCompare(b.kind) || a.id.localeCompare(b.id))) {
  const detail = Array.isArray(t.result) ? ` — ${t.result[1]}` : ''
  console.log(`  ${t.kind}/${t.outcome}  ${t.id}: ${t.name}${detail}`.slice(0, 240))
}
process.exit(notPassed.some(t => t.kind === 'required' && t.outcome === 'fail') ? 1 : 0)
EOF
status=0
node "$tmp/grade.mjs" "$SUITE" "$RESULTS" | tee "$OUT_DIR/cache-tests-$stamp.txt" || status=1
echo "results: $RESULTS"
exit $status
