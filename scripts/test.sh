#!/usr/bin/env bash
# The test command: installs what it needs, builds, runs the default suites
# (unit, integration, fuzz corpus replay). `--asan` runs them in an
# ASan+UBSan build instead. In CI (CI=true) warnings are errors.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh build test
if [ ! -d tests/node/node_modules/openai ]; then
        (cd tests/node && npm ci --no-audit --no-fund --loglevel=error)
fi

dir=build
args=()
if [ "${1:-}" = "--asan" ]; then
        dir=build-asan
        args+=(-Db_sanitize=address,undefined -Db_lundef=false)
        shift
fi
[ "${CI:-}" = "true" ] && args+=(-Dwerror=true)
if [ ! -f "$dir/build.ninja" ]; then
        meson setup "$dir" "${args[@]}" >/dev/null
elif [ ${#args[@]} -gt 0 ]; then
        meson configure "$dir" "${args[@]}" >/dev/null
fi
ninja -C "$dir"

rc=0
meson test -C "$dir" --print-errorlogs --suite unit --suite integration --suite fuzz "$@" || rc=$?

# one closing line any CI reads: "N passed, N failed, N skipped"
python3 - "$dir/meson-logs/testlog.json" <<'PY'
import json, sys
c = {"ok": 0, "fail": 0, "skip": 0}
for line in open(sys.argv[1]):
    r = json.loads(line).get("result", "")
    if r in ("OK", "EXPECTEDFAIL"):
        c["ok"] += 1
    elif r == "SKIP":
        c["skip"] += 1
    else:
        c["fail"] += 1
print("%d passed, %d failed, %d skipped" % (c["ok"], c["fail"], c["skip"]))
PY
exit $rc
