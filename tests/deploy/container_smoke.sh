#!/usr/bin/env bash
# The CPU image, built offline and answering inside: containers/build.sh cpu
# (debootstrap'd Debian bases cached under build/containers, buildah with
# --network none), then podman runs `switchyard-demo` (simulated vLLM and
# SGLang servers + `switchyard run`) with no network at all, and the checks
# are made with curl from inside the container: /ready, /v1/models with
# owned_by, a chat completion routed by owned_by, streaming, model "auto"
# classified by the classifier process with the image's default model (the
# semantic-router guide's prompts: "2+2 is" to the math model, the Linux
# kernel one to the computer-science model), the health check, the non-root
# user, a clean stop on SIGTERM. Then the Kubernetes pod's layout: frontend,
# router and classifier as three hardened containers sharing /run/switchyard,
# the router container restarted under requests, model "auto" answered
# through the classifier container and, while it is stopped, by
# default_model.
#
# usage: container_smoke.sh REPO_ROOT     (meson test --suite container)
# Slow the first time (debootstrap, a few minutes); later builds reuse the
# cached bases and layers. Exits 77 (skip) when not root.
set -euo pipefail
repo=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$repo"
if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: needs root (debootstrap, buildah and podman storage)"
	exit 77
fi

cache=${SWITCHYARD_IMAGE_CACHE:-$repo/build/containers}
image=${IMAGE:-localhost/switchyard}
export STORAGE_DRIVER=vfs
mkdir -p "$cache"

echo "== build (containers/build.sh cpu)"
t0=$(date +%s)
containers/build.sh cpu
echo "built in $(($(date +%s) - t0)) s"

# podman as this machine runs it: runc, cgroupfs, vfs, no network, and no
# default ulimits (the sandbox refuses to raise them).
conf=$cache/containers.conf
printf '[containers]\ndefault_ulimits = []\n' >"$conf"
export CONTAINERS_CONF=$conf
pm() { podman --runtime runc --cgroup-manager cgroupfs --storage-driver vfs "$@"; }

base=switchyard-smoke-$$
name=$base
cleanup() {
	local c # the sims container last: the others share its network namespace
	for c in "$base" "$base-fe" "$base-rt" "$base-cl" "$base-sims"; do
		pm rm -f -v -t 0 "$c" >/dev/null 2>&1 || true
	done
	pm volume rm -f "$base-run" >/dev/null 2>&1 || true
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*"
	echo "--- container log"
	pm logs "$name" 2>&1 | tail -40 || true
	exit 1
}

echo "== image"
pm image inspect --format '{{.Config.User}} {{json .Config.Cmd}}' "$image:cpu"
user=$(pm image inspect --format '{{.Config.User}}' "$image:cpu")
[ "$user" = "10001:10001" ] || fail "image user is '$user', not 10001:10001"
hc=$(pm image inspect --format '{{json .Config.Healthcheck}}' "$image:cpu")
case "$hc" in *"/health"*) echo "healthcheck: $hc" ;; *) fail "no HEALTHCHECK in the image: $hc" ;; esac
pm image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep "switchyard" || true

echo "== run (network none; seccomp: the runtime's default + io_uring)"
pm run -d --name "$name" --network none --security-opt seccomp="$repo/containers/seccomp-io_uring.json" \
	"$image:cpu" switchyard-demo >/dev/null
ex() { pm exec "$name" "$@"; }

ready=
for _ in $(seq 150); do
	if ex curl -fsS -o /dev/null http://127.0.0.1:8080/ready 2>/dev/null; then
		ready=1
		break
	fi
	sleep 0.2
done
[ -n "$ready" ] || fail "/ready did not answer 200 within 30 s"
echo "ready"

uid=$(ex id -u)
[ "$uid" = 10001 ] || fail "runs as uid $uid"
echo "runs as uid $uid"

models=$(ex curl -fsS http://127.0.0.1:8080/v1/models)
echo "/v1/models: $models" | cut -c1-300
case "$models" in *'"owned_by":"sglang"'* | *'"owned_by": "sglang"'*) ;; *) fail "/v1/models lacks owned_by sglang" ;; esac

out=$(ex curl -sS -i http://127.0.0.1:8080/v1/chat/completions -H 'Content-Type: application/json' \
	-d '{"model": "meta-llama/Llama-3.2-1B-Instruct", "owned_by": "sglang", "messages": [{"role": "user", "content": "What is machine learning?"}], "max_tokens": 100}')
echo "$out" | head -20
echo "$out" | head -1 | grep -q " 200 " || fail "chat completion did not answer 200"
echo "$out" | grep -qi '^x-switchyard-engine: sglang' || fail "not routed to the sglang engine"
echo "$out" | grep -q '"chat.completion"' || fail "no chat.completion object in the body"

stream=$(ex curl -sS -N http://127.0.0.1:8080/v1/chat/completions -H 'Content-Type: application/json' \
	-d '{"model": "/models/Phi-tiny-MoE-instruct", "stream": true, "messages": [{"role": "user", "content": "Tell me a story"}]}')
echo "$stream" | grep -q '^data: \[DONE\]' || fail "the stream did not end with [DONE]"
echo "stream: $(echo "$stream" | grep -c '^data:') events, [DONE]"

# model "auto": the classifier process (started by `switchyard run` because
# demo.yaml has categories) with the default model in the image
alive=
for _ in $(seq 150); do
	if ex switchyard probe classifier -c /etc/switchyard/demo.yaml >/dev/null 2>&1; then
		alive=1
		break
	fi
	sleep 0.2
done
[ -n "$alive" ] || fail "the classifier process is not alive within 30 s"
auto() { # prompt -> response head
	ex curl -sS -D - -o /dev/null http://127.0.0.1:8080/v1/chat/completions -H 'Content-Type: application/json' \
		-d "{\"model\": \"auto\", \"messages\": [{\"role\": \"user\", \"content\": \"$1\"}], \"max_tokens\": 100, \"temperature\": 0}"
}
h=$(auto "2+2 is  ")
echo "$h" | grep -i '^x-vsr-\|^x-switchyard-classifier\|^x-switchyard-confidence'
echo "$h" | grep -qi '^x-switchyard-classifier: ok' || fail "model auto: the classifier did not answer (ok): $h"
echo "$h" | grep -qi '^x-vsr-selected-category: math' || fail "model auto: '2+2 is' not classified math"
echo "$h" | grep -qi '^x-vsr-selected-model: phi4-mini' || fail "model auto: '2+2 is' not routed to phi4-mini"
h=$(auto "Linux is said to be an open source kernel because ")
echo "$h" | grep -qi '^x-switchyard-classifier: ok' || fail "model auto: the classifier did not answer (ok): $h"
echo "$h" | grep -qi '^x-vsr-selected-category: computer science' || fail "model auto: the Linux prompt not computer science"
echo "$h" | grep -qi '^x-vsr-selected-model: llama3-8b' || fail "model auto: the Linux prompt not routed to llama3-8b"
echo "model auto: math -> phi4-mini, computer science -> llama3-8b, x-switchyard-classifier: ok"

pm healthcheck run "$name" || fail "podman healthcheck run: unhealthy"
echo "healthcheck: healthy"

echo "== stop (SIGTERM drains)"
pm stop -t 20 "$name" >/dev/null
code=$(pm inspect --format '{{.State.ExitCode}}' "$name")
[ "$code" = 0 ] || fail "exit code $code after SIGTERM"
echo "stopped, exit 0"

# The Kubernetes pod's layout (k8s/base/daemonset.yaml) with podman: the
# router, the frontend and the classifier as three containers sharing the
# network namespace and a volume at /run/switchyard, read-only root file
# systems, no capabilities, the router and the classifier under the
# runtime's default seccomp profile.
echo "== pod layout: frontend, router and classifier containers sharing /run/switchyard"
pm volume create "$base-run" >/dev/null
pm run -d --name "$base-sims" --network none "$image:cpu" bash -c '
	for a in "8101 llama-vllm-0 vllm meta-llama/Llama-3.2-1B-Instruct" "8102 llama-vllm-1 vllm meta-llama/Llama-3.2-1B-Instruct" \
		"8103 llama-sglang sglang meta-llama/Llama-3.2-1B-Instruct" "8104 phi-tiny-vllm vllm /models/Phi-tiny-MoE-instruct" \
		"8105 llama3-8b-vllm vllm llama3-8b" "8106 phi4-mini-vllm vllm phi4-mini"; do
		set -- $a; /usr/libexec/switchyard/simllm --port $1 --name $2 --engine $3 --model $4 & done; wait' >/dev/null
hard=(--network "container:$base-sims" --read-only --cap-drop ALL --security-opt no-new-privileges
	-v "$base-run:/run/switchyard")
pm run -d --name "$base-rt" "${hard[@]}" "$image:cpu" switchyard router -c /etc/switchyard/demo.yaml >/dev/null
pm run -d --name "$base-cl" "${hard[@]}" "$image:cpu" switchyard classifier -c /etc/switchyard/demo.yaml >/dev/null
pm run -d --name "$base-fe" "${hard[@]}" --security-opt seccomp="$repo/containers/seccomp-io_uring.json" \
	"$image:cpu" switchyard frontend -c /etc/switchyard/demo.yaml >/dev/null
name=$base-fe # for fail's log
sx() { pm exec "$base-sims" "$@"; }
code=
for _ in $(seq 100); do
	code=$(sx curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:8080/ready 2>/dev/null || true)
	[ "$code" = 200 ] && break
	sleep 0.2
done
[ "$code" = 200 ] || fail "two-container layout: /ready $code"
h=$(sx curl -s -D - -o /dev/null http://127.0.0.1:8080/v1/chat/completions -H 'Content-Type: application/json' \
	-d '{"model": "meta-llama/Llama-3.2-1B-Instruct", "owned_by": "sglang", "messages": [{"role": "user", "content": "hi"}]}')
echo "$h" | grep -qi '^x-switchyard-engine: sglang' || fail "two-container layout: not routed: $h"
echo "routed through the frontend and router containers"
pm restart -t 5 "$base-rt" >/dev/null
bad=0
for _ in $(seq 20); do
	c=$(sx curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:8080/v1/chat/completions -H 'Content-Type: application/json' \
		-d '{"model": "phi4-mini", "messages": [{"role": "user", "content": "hi"}]}')
	[ "$c" = 200 ] || bad=$((bad + 1))
done
[ "$bad" = 0 ] || fail "two-container layout: $bad of 20 failed after the router container restarted"
[ "$(pm inspect --format '{{.RestartCount}} {{.State.Running}}' "$base-fe")" = "0 true" ] ||
	fail "the frontend container did not survive the router's restart"
echo "router container restarted; 20 requests answered, frontend container untouched"

# the classifier container: alive by its probe (as the pod's liveness
# probe runs it), answering model "auto"; stopped, default_model answers
alive=
for _ in $(seq 150); do
	if pm exec "$base-cl" switchyard probe classifier -c /etc/switchyard/demo.yaml >/dev/null 2>&1; then
		alive=1
		break
	fi
	sleep 0.2
done
name=$base-cl
[ -n "$alive" ] || fail "two-container layout: the classifier container's probe fails"
h=$(sx curl -s -D - -o /dev/null http://127.0.0.1:8080/v1/chat/completions -H 'Content-Type: application/json' \
	-d '{"model": "auto", "messages": [{"role": "user", "content": "2+2 is  "}]}')
echo "$h" | grep -qi '^x-switchyard-classifier: ok' || fail "pod layout: model auto not classified: $h"
echo "$h" | grep -qi '^x-vsr-selected-model: phi4-mini' || fail "pod layout: '2+2 is' not routed to phi4-mini: $h"
echo "model auto through the classifier container: ok, phi4-mini"
pm stop -t 10 "$base-cl" >/dev/null
h=$(sx curl -s -D - -o /dev/null http://127.0.0.1:8080/v1/chat/completions -H 'Content-Type: application/json' \
	-d '{"model": "auto", "messages": [{"role": "user", "content": "2+2 is  "}]}')
echo "$h" | head -1 | grep -q " 200 " || fail "classifier stopped: model auto not answered: $h"
echo "$h" | grep -qi '^x-switchyard-classifier: unavailable\|^x-switchyard-classifier: timeout' ||
	fail "classifier stopped: x-switchyard-classifier does not say why: $h"
echo "$h" | grep -qi '^x-vsr-selected-model: llama3-8b' || fail "classifier stopped: default_model did not serve: $h"
echo "classifier container stopped: model auto answered by default_model ($(echo "$h" | grep -i '^x-switchyard-classifier:' | tr -d '\r'))"
