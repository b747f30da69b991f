#!/bin/sh
# Runs one libFuzzer target for SECONDS under ASan + UBSan with leak
# detection, seeded from its checked-in corpus; new inputs go to a scratch
# directory (the corpus is read only), crashes to $OUT/. Prints the
# executions and exec/s at the end.
#
# usage: tests/fuzz/run_fuzz.sh TARGET SECONDS [libFuzzer flags...]
#   TARGET: a tests/fuzz target (metrics, k8s, ...) or tests/http's
#   (request, response, chunked, json). Build first:
#   CC=clang meson setup build-fuzz -Dfuzz=enabled -Db_sanitize=address,undefined
# Environment: BUILD (default build-fuzz), OUT (default /tmp/sy-fuzz/TARGET).
# Afterwards fold new coverage into the corpus (kept small):
#   BUILD/tests/fuzz/fuzz_TARGET -merge=1 tests/fuzz/corpus/TARGET OUT/new
set -eu
target=${1:?usage: run_fuzz.sh TARGET SECONDS [flags...]}
secs=${2:?usage: run_fuzz.sh TARGET SECONDS [flags...]}
shift 2
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD:-$src/build-fuzz}
out=${OUT:-/tmp/sy-fuzz/$target}
case $target in
request | response | chunked | json)
        exe=$build/tests/http/fuzz_$target corpus=$src/tests/http/corpus/$target
        case $target in json) dict=$src/tests/http/json.dict max=65536 ;; *) dict=$src/tests/http/http.dict max=8192 ;; esac
        ;;
*)
        exe=$build/tests/fuzz/fuzz_$target corpus=$src/tests/fuzz/corpus/$target dict=
        max=16384
        [ -f "$src/tests/fuzz/$target.dict" ] && dict=$src/tests/fuzz/$target.dict
        ;;
esac
[ -x "$exe" ] || { echo "$exe: not built (ninja -C $build ${exe#$build/})" >&2; exit 1; }
mkdir -p "$out/new"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
"$exe" -max_total_time="$secs" -max_len="$max" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        ${dict:+-dict="$dict"} -artifact_prefix="$out/" "$@" "$out/new" "$corpus" 2>&1 |
        tee "$out/log" | grep -E '^(#[0-9]+.*(DONE|pulse)|==[0-9]+==|SUMMARY|stat::number_of_executed_units|stat::average_exec_per_sec|stat::peak_rss_mb|.*(ERROR|runtime error|invariant failed))' || true
