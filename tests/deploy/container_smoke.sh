#!/usr/bin/env bash
# The CPU image, built offline and answering inside: containers/build.sh cpu
# (debootstrap'd Debian bases cached under build/containers, buildah with
# --network none), then podman runs `switchyard-demo` (simulated vLLM and
# SGLang servers + `switchyard run`) with no network at all, and the checks
# are made with curl from inside the container: /ready, /v1/models with
# owned_by, a chat completion routed by owned_by, streaming, the health
# check, the non-root user, a clean stop on SIGTERM.
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

name=switchyard-smoke-$$
cleanup() { pm rm -f -t 0 "$name" >/dev/null 2>&1 || true; }
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

echo "== run (network none)"
pm run -d --name "$name" --network none "$image:cpu" switchyard-demo >/dev/null
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

pm healthcheck run "$name" || fail "podman healthcheck run: unhealthy"
echo "healthcheck: healthy"

echo "== stop (SIGTERM drains)"
pm stop -t 20 "$name" >/dev/null
code=$(pm inspect --format '{{.State.ExitCode}}' "$name")
[ "$code" = 0 ] || fail "exit code $code after SIGTERM"
echo "stopped, exit 0"
