#!/usr/bin/env bash
# The demo: builds switchyard, starts simulated model servers standing in
# for the guides' deployments (tests/simllm), and runs switchyard on
# 127.0.0.1:8080 with config/demo.yaml until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh build demo
scripts/build.sh
bin=build/supervisor/switchyard
sim=build/tests/simllm/simllm
export SWITCHYARD_RUNTIME_DIR=${SWITCHYARD_RUNTIME_DIR:-/tmp/switchyard-demo}
mkdir -p "$SWITCHYARD_RUNTIME_DIR"

pids=()
cleanup() {
        [ ${#pids[@]} -gt 0 ] && kill "${pids[@]}" 2>/dev/null || true
        wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

start_sim() { # port name engine model
        "$sim" --port "$1" --name "$2" --engine "$3" --model "$4" --ttft-ms 40 --itl-ms 15 --max-tokens 24 \
                >"$SWITCHYARD_RUNTIME_DIR/$2.log" 2>&1 &
        pids+=($!)
}
start_sim 8101 llama-vllm-0 vllm meta-llama/Llama-3.2-1B-Instruct
start_sim 8102 llama-vllm-1 vllm meta-llama/Llama-3.2-1B-Instruct
start_sim 8103 llama-sglang sglang meta-llama/Llama-3.2-1B-Instruct
start_sim 8104 phi-tiny-vllm vllm /models/Phi-tiny-MoE-instruct
start_sim 8105 llama3-8b-vllm vllm llama3-8b
start_sim 8106 phi4-mini-vllm vllm phi4-mini

"$bin" check -c config/demo.yaml
"$bin" run -c config/demo.yaml &
pids+=($!)
for _ in $(seq 100); do
        curl -sf http://127.0.0.1:8080/ready >/dev/null 2>&1 && break
        sleep 0.1
done
# the classifier loads its model after the frontend is ready (model "auto"
# gets the default model until then): wait for it too, 30 s at most
for _ in $(seq 300); do
        curl -sf http://127.0.0.1:8080/api/v1/classify -H "Content-Type: application/json" \
                -d '{"text": "hello"}' >/dev/null 2>&1 && break
        sleep 0.1
done

cat <<'TXT'

switchyard is up on http://127.0.0.1:8080 (simulated models; Ctrl-C stops everything). Try:

  curl http://127.0.0.1:8080/v1/models

  curl http://127.0.0.1:8080/v1/chat/completions -H "Content-Type: application/json" \
    -d '{"model": "meta-llama/Llama-3.2-1B-Instruct", "messages": [{"role": "user", "content": "What is machine learning?"}], "max_tokens": 100}'

  curl -i http://127.0.0.1:8080/v1/chat/completions -H "Content-Type: application/json" \
    -d '{"model": "meta-llama/Llama-3.2-1B-Instruct", "owned_by": "sglang", "messages": [{"role": "user", "content": "What is machine learning?"}]}'

  curl -i http://127.0.0.1:8080/v1/chat/completions -H "Content-Type: application/json" -H "x-owned-by: sglang" \
    -d '{"model": "meta-llama/Llama-3.2-1B-Instruct", "messages": [{"role": "user", "content": "Hi"}]}'

  curl -N http://127.0.0.1:8080/v1/chat/completions -H "Content-Type: application/json" \
    -d '{"model": "/models/Phi-tiny-MoE-instruct", "stream": true, "messages": [{"role": "user", "content": "Tell me a story"}]}'

  curl -i http://127.0.0.1:8080/v1/chat/completions -H "Content-Type: application/json" \
    -d '{"model": "auto", "messages": [{"role": "user", "content": "Linux is said to be an open source kernel because "}]}'

  curl -i http://127.0.0.1:8080/v1/chat/completions -H "Content-Type: application/json" \
    -d '{"model": "auto", "messages": [{"role": "user", "content": "2+2 is "}]}'

  curl http://127.0.0.1:8080/api/v1/classify -H "Content-Type: application/json" \
    -d '{"text": "Hi, I am John Smith, SSN 123-45-6789. What is the derivative of x^2?"}'

  curl -s http://127.0.0.1:8080/metrics | grep switchyard_requests_total

TXT
# the eBPF probes (built with the bpf feature; docs/probes.md), as root
if [ -x build/supervisor/switchyard-probes ]; then
        printf '  sudo %s probes -r %s --watch   # where the time goes, per stage, each second\n\n' \
                "$bin" "$SWITCHYARD_RUNTIME_DIR"
else
        printf '  (the eBPF probes are not built here: docs/probes.md says what they need)\n\n'
fi
wait "${pids[-1]}"
