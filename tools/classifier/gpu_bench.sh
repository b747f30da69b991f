#!/bin/sh
# CUDA classifier benchmark: a BERT-base-size model (random weights,
# generated once by the benchmark itself, nothing downloaded) at 128 tokens,
# classifications/s at batch 1..256 and p50/p99 latency at half the best
# rate (open-loop arrivals), with the CPU backend's figures beside them.
# Figures only. Exits 77 when the build has no CUDA or there is no device.
#
#   tools/classifier/gpu_bench.sh BUILD_DIR [PRECISION...]
#   PRECISION: f16 (default) bf16 tf32 f32; the CPU is measured with the first
#   environment: CLF_BENCH_DIR (default /tmp/clf-bench), CLF_BENCH_ARGS
#   (more options for switchyard-classify-bench-gpu, e.g. "--seconds 5")
set -eu
build=${1:?usage: gpu_bench.sh BUILD_DIR [PRECISION...]}
shift
precs=${*:-f16}
bin="$build/classifier/switchyard-classify-bench-gpu"
dir=${CLF_BENCH_DIR:-/tmp/clf-bench}/bert-base-gpu
mkdir -p "$(dirname "$dir")"
[ -f "$dir/model.safetensors" ] || "$bin" --gen "$dir"
threads=$(nproc)
# OpenBLAS starts its worker threads before main(): match them to -t
export OPENBLAS_NUM_THREADS=$threads
command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi --query-gpu=name,memory.total,clocks.max.sm,driver_version --format=csv,noheader || true
first=1
for p in $precs; do
        echo "== GEMM precision $p =="
        if [ $first = 1 ]; then
                "$bin" -p "$p" -t "$threads" ${CLF_BENCH_ARGS:-} "$dir"
        else
                "$bin" -p "$p" -t "$threads" --no-cpu ${CLF_BENCH_ARGS:-} "$dir"
        fi
        first=0
done
