#!/usr/bin/env bash
# Builds the switchyard container images offline, from Debian's packages only
# (no registry pulls):
#
#   1. debootstrap makes minimal Debian rootfs trees (a runtime base and a
#      build base; the CUDA variant adds Debian's non-free CUDA packages),
#      cached as tarballs under the cache folder;
#   2. each tarball is imported as a local base image with buildah;
#   3. buildah builds containers/Containerfile.<variant> from the source tree
#      with --network none (every build step runs offline).
#
# usage: containers/build.sh [cpu|cuda|bases|all]...   (default: cpu)
#
#   cpu     localhost/switchyard:cpu   (and :latest)
#   cuda    localhost/switchyard:cuda  (the classifier built with its CUDA
#           backend by Debian non-free's nvidia-cuda-toolkit in a build base
#           of its own, about 2 GB to download the first time; the runtime
#           gets only Debian's CUDA runtime libraries: cudart, cublas,
#           cublasLt)
#   bases   only the base images (debootstrap + import)
#   systemd-rootfs  a Debian rootfs tarball with systemd and switchyard's
#           runtime libraries, for booting the units in systemd-nspawn
#           (tests/deploy/systemd_boot.sh); not an image
#
# Environment:
#   SWITCHYARD_IMAGE_CACHE  cache folder (default: <repo>/build/containers);
#                           delete it, or set REBUILD_BASE=1, to debootstrap anew
#                           (a base whose package list changed is made again)
#   DEBIAN_MIRROR           default http://deb.debian.org/debian
#   DEBIAN_SUITE            default bookworm
#   STORAGE_DRIVER          containers/storage driver (default vfs, which works
#                           everywhere; podman must be run with the same one)
#   IMAGE                   image name (default localhost/switchyard)
#
# Runs as root (debootstrap needs it). Installs debootstrap, buildah, podman
# and runc from Debian if they are missing.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
cache=${SWITCHYARD_IMAGE_CACHE:-$repo/build/containers}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
suite=${DEBIAN_SUITE:-bookworm}
driver=${STORAGE_DRIVER:-vfs}
image=${IMAGE:-localhost/switchyard}
base_prefix=localhost/switchyard-base

# Packages of each base, on top of debootstrap's minbase (which already has
# bash, coreutils, passwd and libsystemd0). Only Depends are pulled in.
# libopenblas0-pthread: the classifier's GEMMs (only switchyard-classifier
# links it); libopenblas-dev for building it. libssl-dev: the router's TLS
# to the Kubernetes API server (discovery); without it the router is built
# without TLS. The runtime's libssl3 comes with curl.
runtime_pkgs=liburing2,libyaml-0-2,curl,libopenblas0-pthread
build_pkgs=gcc,libc6-dev,pkg-config,meson,ninja-build,python3,liburing-dev,libyaml-dev,libsystemd-dev,libopenblas-dev,libssl-dev
# Debian 12 ships CUDA 11.8 in non-free: libcudart11.0 / libcublas11 /
# libcublaslt11 and nvidia-cuda-toolkit 11.8 (nvcc, with g++-11 as its host
# compiler). Debian 13 has CUDA 12.4 (libcudart12, libcublas12, libcublaslt12):
# set DEBIAN_SUITE=trixie and CUDA_RUNTIME_PKGS for it. The driver's
# libcuda.so.1 comes from the host (nvidia-container-toolkit / CDI); the
# build base gets Debian's libcuda1 only because nvidia-cuda-dev depends on
# it (nothing of it reaches the runtime image).
cuda_runtime_pkgs=${CUDA_RUNTIME_PKGS:-libcudart11.0,libcublas11,libcublaslt11}
cuda_build_pkgs=${CUDA_BUILD_PKGS:-nvidia-cuda-toolkit}

log() { printf 'build.sh: %s\n' "$*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
	echo "build.sh: run as root (debootstrap and buildah's storage need it)" >&2
	exit 1
fi

need=()
for p in debootstrap buildah podman runc; do
	command -v "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
	log "installing ${need[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

mkdir -p "$cache/debs"
bah() { buildah --storage-driver "$driver" "$@"; }

have_image() { bah inspect --type image "$1" >/dev/null 2>&1; }

# base NAME PACKAGES COMPONENTS [tar]: debootstrap (cached tarball) and
# import as an image; with "tar", only the tarball.
base() {
	local name=$1 pkgs=$2 components=$3 only=${4:-}
	local ref=$base_prefix/$name:$suite tarball=$cache/$name-$suite.tar root=$cache/rootfs-$name
	local want="$suite $components $pkgs"
	if [ -f "$tarball" ] && [ "$(cat "$tarball.pkgs" 2>/dev/null)" != "$want" ]; then
		log "$name: package list changed, debootstrap again"
		rm -f "$tarball"
	fi
	if [ "${REBUILD_BASE:-0}" = 1 ] || [ ! -f "$tarball" ]; then
		rm -f "$tarball"
		bah rmi -f "$ref" >/dev/null 2>&1 || true
	fi
	# the image is current when it was imported from this tarball
	# ($tarball.imported is touched after each import)
	if [ -f "$tarball" ] && { [ "$only" = tar ] ||
		{ have_image "$ref" && [ -f "$tarball.imported" ] && ! [ "$tarball" -nt "$tarball.imported" ]; }; }; then
		return 0
	fi
	if [ ! -f "$tarball" ]; then
		log "debootstrap $suite ($name): $pkgs"
		rm -rf "$root"
		debootstrap --variant=minbase --components="$components" --include="$pkgs" \
			--cache-dir="$cache/debs" "$suite" "$root" "$mirror" >"$cache/debootstrap-$name.log" 2>&1 || {
			tail -20 "$cache/debootstrap-$name.log" >&2
			[ -f "$root/debootstrap/debootstrap.log" ] && tail -20 "$root/debootstrap/debootstrap.log" >&2
			exit 1
		}
		# smaller and reproducible-ish: no apt lists, caches, logs or docs
		rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
			"$root"/var/log/* "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/*
		printf 'deb %s %s %s\n' "$mirror" "$suite" "${components//,/ }" >"$root/etc/apt/sources.list"
		tar --numeric-owner --xattrs -C "$root" -cf "$tarball.tmp" .
		mv "$tarball.tmp" "$tarball"
		printf '%s\n' "$want" >"$tarball.pkgs"
		rm -rf "$root"
	fi
	[ "$only" = tar ] && return 0
	log "importing $tarball as $ref"
	bah rmi -f "$ref" >/dev/null 2>&1 || true
	local ctr
	ctr=$(bah from --quiet scratch)
	bah add --quiet "$ctr" "$tarball" / >/dev/null
	bah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		--env LANG=C.UTF-8 --cmd /bin/bash \
		--label org.opencontainers.image.description="Debian $suite minbase + $pkgs (debootstrap)" "$ctr"
	bah commit --quiet --rm "$ctr" "$ref" >/dev/null
	touch "$tarball.imported"
}

# The build context: the source tree as git sees it (tracked and untracked,
# not ignored), so build/ and node_modules/ stay out.
context() {
	local ctx=$cache/context
	rm -rf "$ctx"
	mkdir -p "$ctx"
	if git -C "$repo" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
		(cd "$repo" && git ls-files -z --cached --others --exclude-standard |
			xargs -0 -r sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh |
			tar --null -T - -cf -) | tar -C "$ctx" -xf -
	else
		tar -C "$repo" --exclude='./build*' --exclude=node_modules --exclude=.git -cf - . | tar -C "$ctx" -xf -
	fi
}

build() {
	local variant=$1
	context
	log "building $image:$variant"
	local args=(--build-arg SUITE="$suite")
	bah bud --network none --format docker --layers "${args[@]}" \
		-f "$here/Containerfile.$variant" -t "$image:$variant" "$cache/context"
	[ "$variant" = cpu ] && bah tag "$image:cpu" "$image:latest"
	# the build stages of earlier builds (vfs keeps full copies of each)
	bah rmi --prune >/dev/null 2>&1 || true
	log "built $image:$variant"
}

bases_cpu() {
	base runtime "$runtime_pkgs" main
	base build "$build_pkgs" main
}
bases_cuda() {
	base cuda-build "$build_pkgs,$cuda_build_pkgs" main,contrib,non-free,non-free-firmware
	base cuda-runtime "$runtime_pkgs,$cuda_runtime_pkgs" main,contrib,non-free,non-free-firmware
}

[ $# -eq 0 ] && set -- cpu
for what in "$@"; do
	case "$what" in
	cpu) bases_cpu; build cpu ;;
	cuda) bases_cuda; build cuda ;;
	bases) bases_cpu ;;
	systemd-rootfs) base systemd "systemd,systemd-sysv,dbus,procps,$runtime_pkgs" main tar ;;
	all) bases_cpu; build cpu; bases_cuda; build cuda ;;
	*) echo "usage: $0 [cpu|cuda|bases|systemd-rootfs|all]..." >&2; exit 2 ;;
	esac
done
