#!/usr/bin/env bash
# Installs what switchyard needs from Debian's packages, idempotently:
# packages already present are not touched and apt-get runs only when
# something is missing.  usage: scripts/deps.sh [build|test|bench|demo|fuzz|train]...
set -euo pipefail

want=(meson ninja-build gcc pkg-config liburing-dev libyaml-dev libsystemd-dev libopenblas-dev libssl-dev libhiredis-dev systemtap-sdt-dev python3 curl procps)
for what in "$@"; do
        case "$what" in
        build) ;;
        test)
                want+=(nodejs npm python3-yaml systemd openssl redis-server clang-format-14)
                # manifests are rendered with kubectl kustomize; any kubectl will do
                command -v kubectl >/dev/null 2>&1 || want+=(kubernetes-client)
                ;;
        bench) want+=(wrk nginx-light util-linux) ;;
        demo) ;;
        fuzz) want+=(clang libfuzzer-14-dev libclang-rt-14-dev) ;;
        # tools/train (the default classifier) and tools/classifier/eval.py, with /usr/bin/python3
        train) want+=(python3-torch python3-regex python3-sklearn) ;;
        *) echo "deps.sh: unknown set '$what'" >&2; exit 2 ;;
        esac
done

missing=()
for p in "${want[@]}"; do
        # node/npm may come from elsewhere (e.g. nodesource): a working command is enough
        case "$p" in
        nodejs) command -v node >/dev/null 2>&1 && continue ;;
        npm) command -v npm >/dev/null 2>&1 && continue ;;
        esac
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
        echo "installing: ${missing[*]}" >&2
        SUDO=""
        [ "$(id -u)" -eq 0 ] || SUDO="sudo"
        $SUDO apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
