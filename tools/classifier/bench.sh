#!/bin/sh
# CPU latency of the classifier engine per request at 16/128/512 tokens
# (batch 1, p50/p99) and throughput of batches of 8 and 32, on random-weight
# models of published sizes, and the same models in PyTorch
# (tools/classifier/torch_bench.py: f32, eval, inference_mode) as the
# baseline, printed one after the other. Figures only.
#
#   tools/classifier/bench.sh BUILD_DIR [THREADS] [KINDS...]
#   KINDS: small (the default model's shape, multi-head) minilm bert-base
#          modernbert-base (default: small minilm)
# Models are generated once under ${CLF_BENCH_DIR:-/tmp/clf-bench} (needs
# /usr/bin/python3 with python3-torch). CLF_BENCH_NO_TORCH=1 skips PyTorch.
set -eu
build=${1:?usage: bench.sh BUILD_DIR [THREADS] [KINDS...]}
threads=${2:-1}
shift $(( $# >= 2 ? 2 : 1 ))
kinds=${*:-small minilm}
here=$(cd "$(dirname "$0")" && pwd)
dir=${CLF_BENCH_DIR:-/tmp/clf-bench}
mkdir -p "$dir"
# OpenBLAS starts its worker threads before main(): without this the extra
# ones spin and the CPU times count them
export OPENBLAS_NUM_THREADS=$threads
for k in $kinds; do
        [ -f "$dir/$k/model.safetensors" ] || /usr/bin/python3 "$here/gen_testdata.py" --bench "$k" "$dir/$k"
        echo "== $k: switchyard (C, $threads thread(s))"
        "$build/classifier/switchyard-classify-bench" -b cpu -t "$threads" --batch 8,32 "$dir/$k" 16 128 512
        if [ -z "${CLF_BENCH_NO_TORCH:-}" ]; then
                echo "== $k: PyTorch $(/usr/bin/python3 -c 'import torch; print(torch.__version__)') ($threads thread(s))"
                /usr/bin/python3 "$here/torch_bench.py" "$dir/$k" --threads "$threads" --batch 8,32
        fi
done
