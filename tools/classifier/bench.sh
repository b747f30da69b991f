#!/bin/sh
# CPU latency of the classifier engine per request at 16/128/512 tokens on
# random-weight models of published sizes, and the same models in PyTorch
# (tools/classifier/ref.py) as the baseline. Figures only.
#
#   tools/classifier/bench.sh BUILD_DIR [THREADS] [KINDS...]
#   KINDS: minilm bert-base modernbert-base (default: minilm bert-base)
# Models are generated once under ${CLF_BENCH_DIR:-/tmp/clf-bench} (needs
# /usr/bin/python3 with python3-torch).
set -eu
build=${1:?usage: bench.sh BUILD_DIR [THREADS] [KINDS...]}
threads=${2:-1}
shift $(( $# >= 2 ? 2 : 1 ))
kinds=${*:-minilm bert-base}
here=$(cd "$(dirname "$0")" && pwd)
dir=${CLF_BENCH_DIR:-/tmp/clf-bench}
mkdir -p "$dir"
# OpenBLAS starts its worker threads before main(): without this the extra
# ones spin and the CPU times count them
export OPENBLAS_NUM_THREADS=$threads
for k in $kinds; do
        [ -f "$dir/$k/model.safetensors" ] || /usr/bin/python3 "$here/gen_testdata.py" --bench "$k" "$dir/$k"
        "$build/classifier/switchyard-classify-bench" -t "$threads" "$dir/$k" 16 128 512
        if [ -z "${CLF_BENCH_NO_TORCH:-}" ]; then
                /usr/bin/python3 "$here/ref.py" bench "$dir/$k" --threads "$threads"
        fi
done
