#!/usr/bin/env bash
# The units for real: boots systemd (PID 1 of its own) in systemd-nspawn on a
# Debian rootfs (containers/build.sh systemd-rootfs, cached), with switchyard
# installed by `meson install --destdir` exactly as a package would be, the
# demo's simulated models as a plain service, and checks, from inside:
#
#   - `systemctl enable --now switchyard.target` brings up the socket, the
#     router and the frontend (Type=notify: started = READY=1 received),
#     under the hardening of the units, as user switchyard
#   - /v1/models and a chat completion routed by owned_by
#   - a router restart under load: no request lost, the frontend untouched
#   - a frontend SIGKILL under load: restarted, the socket keeps new
#     connections waiting (only requests inside the killed process fail)
#   - a stopped frontend is started again by its socket
#   - a frozen router (SIGSTOP) is killed by the watchdog and restarted;
#     requests keep being served meanwhile
#   - `systemctl enable --now switchyard-classifier`: the classifier under
#     its unit's hardening (no network, W^X, the system call filter) loads
#     the installed default model and answers model "auto" (the semantic-
#     router guide's "2+2 is" to the math model); a CUDA build runs its
#     CPU fallback here (the toolkit's libraries bound read-only from the
#     host, no GPU); stopped, default_model answers
#   - SIGTERM drains a running stream to its end; /run/switchyard survives
#     stopping everything
#   - `systemd-analyze security` on the running units
#
# usage: systemd_boot.sh REPO_ROOT BUILD_ROOT   (meson test --suite container)
# Exits 77 (skip) when not root or nspawn cannot boot here.
set -euo pipefail
repo=$(cd "${1:?repo root}" && pwd)
build=$(cd "${2:?build root}" && pwd)
if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: needs root (debootstrap, systemd-nspawn)"
	exit 77
fi
if ! command -v systemd-nspawn >/dev/null 2>&1; then
	apt-get install -y -qq --no-install-recommends systemd-container >/dev/null 2>&1 ||
		{ echo "SKIP: systemd-nspawn missing (apt-get install systemd-container)"; exit 77; }
fi
cache=${SWITCHYARD_IMAGE_CACHE:-$repo/build/containers}
"$repo/containers/build.sh" systemd-rootfs
tarball=$cache/systemd-bookworm.tar

root=$(mktemp -d /var/tmp/sy-boot.XXXXXX)
machine=sy-boot-$$
nspawn_pid=
cleanup() {
	if [ -n "$nspawn_pid" ] && kill -0 "$nspawn_pid" 2>/dev/null; then
		kill "$nspawn_pid" 2>/dev/null || true
		sleep 2
		kill -9 "$nspawn_pid" 2>/dev/null || true
	fi
	rm -rf "$root"
}
trap cleanup EXIT

tar -C "$root" -xf "$tarball"
DESTDIR=$root meson install -C "$build" --no-rebuild --quiet >/dev/null
prefix=$(meson introspect "$build" --buildoptions | python3 -c \
	'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"]=="prefix"][0])')
sysconf=$(meson introspect "$build" --buildoptions | python3 -c \
	'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"]=="sysconfdir"][0])')
case "$sysconf" in /*) ;; *) sysconf=$prefix/$sysconf ;; esac
install -m 0755 "$build/tests/simllm/simllm" "$root/usr/local/libexec-simllm"
# the demo's configuration, as an admin would copy it
install -D -m 0644 "$repo/config/demo.yaml" "$root$sysconf/switchyard/switchyard.yaml"
cat >"$root/etc/systemd/system/sim-demo.service" <<'EOF'
[Unit]
Description=simulated model servers of the demo (simllm)
Before=switchyard-router.service
[Service]
ExecStart=/bin/bash -c 'for a in "8101 llama-vllm-0 vllm meta-llama/Llama-3.2-1B-Instruct" "8102 llama-vllm-1 vllm meta-llama/Llama-3.2-1B-Instruct" "8103 llama-sglang sglang meta-llama/Llama-3.2-1B-Instruct" "8104 phi-tiny-vllm vllm /models/Phi-tiny-MoE-instruct" "8105 llama3-8b-vllm vllm llama3-8b" "8106 phi4-mini-vllm vllm phi4-mini"; do set -- $a; /usr/local/libexec-simllm --port $1 --name $2 --engine $3 --model $4 --ttft-ms 40 --itl-ms 15 --max-tokens 24 & done; wait'
[Install]
WantedBy=multi-user.target
EOF
systemctl --root="$root" enable sim-demo.service >/dev/null 2>&1
systemctl --root="$root" mask console-getty.service systemd-networkd.service apt-daily.timer \
	apt-daily-upgrade.timer >/dev/null 2>&1
echo "$machine" >"$root/etc/hostname"

cat >"$root/root/checks.sh" <<'EOF'
#!/bin/bash
set -u
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { echo "ok: $*"; }
pid() { systemctl show -p MainPID --value "$1"; }
restarts() { systemctl show -p NRestarts --value "$1"; }
req() {
	curl -s -o /dev/null -w '%{http_code}' --max-time 10 http://127.0.0.1:8080/v1/chat/completions \
		-H 'Content-Type: application/json' \
		-d '{"model": "meta-llama/Llama-3.2-1B-Instruct", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}'
}
load() { # N: sequential requests; prints the number that failed
	local bad=0
	for _ in $(seq "$1"); do [ "$(req)" = 200 ] || bad=$((bad + 1)); done
	echo "$bad"
}

systemctl enable --now switchyard.target >/dev/null 2>&1 || fail "systemctl enable --now switchyard.target"
for _ in $(seq 100); do
	[ "$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:8080/ready)" = 200 ] && break
	sleep 0.1
done
for u in switchyard-frontend.socket switchyard-router.service switchyard-frontend.service; do
	[ "$(systemctl is-active "$u")" = active ] && ok "$u active" || fail "$u: $(systemctl is-active "$u")"
done
st=$(systemctl show -p StatusText --value switchyard-frontend)
[ -n "$st" ] && ok "frontend status (sd_notify): $st" || fail "no sd_notify status from the frontend"
for u in switchyard-frontend switchyard-router; do
	user=$(ps -o user= -p "$(pid $u)")
	[ "$user" = switchyard ] && ok "$u runs as $user" || fail "$u runs as $user"
done
journalctl -u switchyard-frontend --no-pager -o cat | grep -q "socket passed by the service manager" &&
	ok "frontend uses the socket unit's listener" || fail "frontend not socket activated"

models=$(curl -s http://127.0.0.1:8080/v1/models)
case "$models" in *'"owned_by":"sglang"'*) ok "/v1/models lists owned_by sglang" ;; *) fail "/v1/models: $models" ;; esac
hdrs=$(curl -s -D - -o /dev/null http://127.0.0.1:8080/v1/chat/completions -H 'Content-Type: application/json' \
	-d '{"model": "meta-llama/Llama-3.2-1B-Instruct", "owned_by": "sglang", "messages": [{"role": "user", "content": "What is machine learning?"}], "max_tokens": 100}')
echo "$hdrs" | grep -qi '^x-switchyard-engine: sglang' && ok "chat completion routed to sglang" ||
	fail "chat completion: $hdrs"

fe=$(pid switchyard-frontend)
load 150 >/tmp/l1 &
sleep 0.3
systemctl restart switchyard-router
wait
bad=$(cat /tmp/l1)
[ "$bad" = 0 ] && ok "router restart under load: 150 requests, none failed" || fail "router restart: $bad of 150 failed"
[ "$(pid switchyard-frontend)" = "$fe" ] && ok "frontend untouched by the router restart" || fail "frontend restarted too"

rt=$(pid switchyard-router)
load 150 >/tmp/l2 &
sleep 0.3
kill -9 "$fe"
wait
bad=$(cat /tmp/l2)
sleep 1
[ "$(systemctl is-active switchyard-frontend)" = active ] && [ "$(pid switchyard-frontend)" != "$fe" ] &&
	ok "frontend restarted after SIGKILL (NRestarts=$(restarts switchyard-frontend))" || fail "frontend not restarted"
[ "$bad" -le 2 ] && ok "frontend SIGKILL under load: $bad of 150 failed (in flight in the killed process)" ||
	fail "frontend SIGKILL: $bad of 150 failed"
[ "$(pid switchyard-router)" = "$rt" ] && ok "router untouched by the frontend restart" || fail "router restarted too"

systemctl stop switchyard-frontend 2>/dev/null
[ "$(req)" = 200 ] && [ "$(systemctl is-active switchyard-frontend)" = active ] &&
	ok "stopped frontend started again by its socket" || fail "socket activation"

applied() { journalctl -u switchyard-router --no-pager -o cat | grep -c "configuration applied"; }
n0=$(applied)
systemctl reload switchyard-router || fail "systemctl reload switchyard-router"
for _ in $(seq 50); do [ "$(applied)" -gt "$n0" ] && break; sleep 0.2; done
[ "$(applied)" -gt "$n0" ] && ok "systemctl reload: the router re-read its configuration" || fail "reload"

rt=$(pid switchyard-router)
kill -STOP "$rt"
bad=$(load 30)
sleep 13
[ "$bad" = 0 ] && ok "router frozen: 30 requests served from the snapshot" || fail "router frozen: $bad of 30 failed"
[ "$(pid switchyard-router)" != "$rt" ] && journalctl -u switchyard-router --no-pager -o cat | grep -q "Watchdog timeout" &&
	ok "watchdog killed the frozen router; it was restarted" || fail "watchdog did not act on the frozen router"

curl -s -N --max-time 20 http://127.0.0.1:8080/v1/chat/completions -H 'Content-Type: application/json' \
	-d '{"model": "meta-llama/Llama-3.2-1B-Instruct", "stream": true, "max_tokens": 120, "messages": [{"role": "user", "content": "Tell me a story"}]}' >/tmp/stream &
sleep 0.5
systemctl stop switchyard-frontend 2>/dev/null
wait
tail -2 /tmp/stream | grep -q '^data: \[DONE\]' && ok "SIGTERM drained a running stream to [DONE]" || fail "stream cut by the stop"

systemctl enable --now switchyard-classifier >/dev/null 2>&1 || fail "systemctl enable --now switchyard-classifier"
[ "$(systemctl is-active switchyard-classifier)" = active ] && ok "switchyard-classifier active (READY=1 after the model loaded)" ||
	fail "switchyard-classifier: $(systemctl is-active switchyard-classifier)"
user=$(ps -o user= -p "$(pid switchyard-classifier)")
[ "$user" = switchyard ] && ok "switchyard-classifier runs as $user" || fail "switchyard-classifier runs as $user"
journalctl -u switchyard-classifier --no-pager -o cat | grep -m1 'backend, model' || true
auto() {
	curl -s -D - -o /dev/null --max-time 10 http://127.0.0.1:8080/v1/chat/completions -H 'Content-Type: application/json' \
		-d '{"model": "auto", "messages": [{"role": "user", "content": "2+2 is  "}], "max_tokens": 4}'
}
h=$(auto)
echo "$h" | grep -qi '^x-switchyard-classifier: ok' && echo "$h" | grep -qi '^x-vsr-selected-model: phi4-mini' &&
	ok "model auto classified by the classifier unit: math -> phi4-mini" || fail "model auto: $h"
systemctl stop switchyard-classifier
h=$(auto)
echo "$h" | grep -qi '^x-vsr-selected-model: llama3-8b' && ok "classifier stopped: default_model serves ($(echo "$h" |
	grep -i '^x-switchyard-classifier:' | tr -d '\r'))" || fail "classifier stopped: $h"
systemctl start switchyard-classifier

systemctl stop switchyard.target
[ -e /run/switchyard/switchyard.shm ] && ok "/run/switchyard/switchyard.shm kept after stopping everything" ||
	fail "runtime directory removed"
systemctl start switchyard.target
sleep 1
[ "$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:8080/ready)" = 200 ] && ok "started again" || fail "start again"

systemd-analyze security --no-pager 2>/dev/null | grep -E '^UNIT|^switchyard'
echo "checks: $fails failed"
exit $((fails > 0))
EOF
chmod 0755 "$root/root/checks.sh"

# A CUDA build's classifier links the toolkit's cudart and cuBLAS by a run
# path into it (/usr/local/cuda): bind it read-only where it is.
binds=()
for d in $(ldd "$build/supervisor/switchyard-classifier" | sed -n 's|.*=> \(/usr/local/cuda[^ ]*\)/lib[^/ ]* .*|\1|p' | sort -u); do
	real=$(readlink -f "$d")
	binds+=(--bind-ro="$real")
	[ "$real" != "$d" ] && mkdir -p "$root$(dirname "$d")" && ln -sfn "$real" "$root$d" 2>/dev/null
	mkdir -p "$root$real"
done
[ ${#binds[@]} -gt 0 ] && echo "CUDA build: ${binds[*]}"

log=$(mktemp /var/tmp/sy-boot-log.XXXXXX)
systemd-nspawn -D "$root" --boot --private-network --register=no --keep-unit -M "$machine" "${binds[@]}" \
	>"$log" 2>&1 </dev/null &
nspawn_pid=$!
leader=
for _ in $(seq 100); do
	leader=$(pgrep -P "$nspawn_pid" | head -1 || true)
	[ -n "$leader" ] && nsenter -t "$leader" -a systemctl is-system-running >/dev/null 2>&1 && break
	state=$( [ -n "$leader" ] && nsenter -t "$leader" -a systemctl is-system-running 2>/dev/null || true)
	[ "$state" = degraded ] && break
	kill -0 "$nspawn_pid" 2>/dev/null || break
	sleep 0.3
done
if [ -z "$leader" ] || ! kill -0 "$nspawn_pid" 2>/dev/null; then
	echo "SKIP: systemd-nspawn could not boot here:"
	tail -5 "$log"
	rm -f "$log"
	exit 77
fi
rc=0
nsenter -t "$leader" -a /root/checks.sh || rc=1
if [ $rc -ne 0 ]; then
	nsenter -t "$leader" -a journalctl -u 'switchyard*' --no-pager -n 60 -o short-monotonic || true
fi
nsenter -t "$leader" -a systemctl poweroff >/dev/null 2>&1 || true
for _ in $(seq 50); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 0.2; done
rm -f "$log"
exit $rc
