#!/bin/sh
# Folds what a run_fuzz.sh run found into the checked-in corpus, minimised:
# the smallest set of inputs (the corpus's and the run's) that keeps every
# feature, or, when that is more than 180 files, every edge (-use_counters=0).
# Regression inputs (crash-*, leak-*, ...) and seed-* files always stay.
# usage: tests/fuzz/merge_corpus.sh TARGET   (after run_fuzz.sh TARGET ...)
set -eu
target=${1:?usage: merge_corpus.sh TARGET}
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD:-$src/build-fuzz}
out=${OUT:-/tmp/sy-fuzz/$target}
case $target in
request | response | chunked | json) exe=$build/tests/http/fuzz_$target corpus=$src/tests/http/corpus/$target ;;
*) exe=$build/tests/fuzz/fuzz_$target corpus=$src/tests/fuzz/corpus/$target ;;
esac
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/m"
"$exe" -merge=1 "$tmp/m" "$corpus" "$out/new" >"$tmp/log" 2>&1
if [ "$(ls "$tmp/m" | wc -l)" -gt 180 ]; then
        rm -f "$tmp/m"/*
        "$exe" -merge=1 -use_counters=0 "$tmp/m" "$corpus" "$out/new" >"$tmp/log" 2>&1
fi
# the merged set replaces the earlier merged inputs (40-hex names)
for f in "$corpus"/*; do
        case ${f##*/} in [0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]*) rm -f "$f" ;; esac
done
# what the corpus keeps anyway (seeds, regressions) is not copied twice
for f in "$corpus"/*; do
        [ -f "$f" ] && rm -f "$tmp/m/$(sha1sum <"$f" | cut -c1-40)"
done
cp "$tmp/m"/* "$corpus"/ 2>/dev/null || true
echo "$target: $(ls "$corpus" | wc -l) files in $corpus"
