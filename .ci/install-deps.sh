#!/usr/bin/env bash
# Installs, from Debian's archive, everything sockscope needs to build, test
# and run, and mounts what the tracer and its tests use. Idempotent: when all
# packages are present it installs nothing. Needs root.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config make
  clang llvm libclang-rt-dev libbpf-dev bpftool libelf-dev zlib1g-dev
  libcli11-dev libspdlog-dev libfmt-dev catch2 nlohmann-json3-dev
  iproute2 util-linux procps libcap2-bin
  qemu-system-x86 busybox-static xz-utils zstd
  bpftrace
  liburing-dev nginx-light redis-server redis-tools curl
  # cpack's .deb (dpkg-shlibdeps; file finds the ELF files), the man page
  # (man -w, groff), tests/package (apt, unshare, overlay mounts)
  dpkg-dev file man-db groff-base apt
  # tests/mermaid: headless Chromium, Arial's metrics, npm for mermaid itself
  chromium fonts-liberation nodejs npm
  tshark tcpdump
)

if [[ $(id -u) -ne 0 ]]; then
  echo "install-deps: needs root (apt-get install, mounts)" >&2
  exit 1
fi

missing=()
for p in "${PACKAGES[@]}"; do
  # A nodejs that brings its own npm (NodeSource's) conflicts with Debian's npm.
  [[ $p == npm ]] && command -v npm >/dev/null && continue
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The tests start nginx and redis-server themselves, on their own ports: the
# services a fresh install just started (where systemd runs them) are stopped,
# an existing one is left alone.
if [[ " ${missing[*]} " =~ \ (nginx-light|redis-server)\  ]] && [[ -d /run/systemd/system ]]; then
  systemctl stop nginx redis-server >/dev/null 2>&1 || true
fi

# tracefs for tracepoint ids, bpffs for pinning, cgroup v2 for sock_ops.
mountpoint -q /sys/kernel/tracing || mount -t tracefs tracefs /sys/kernel/tracing || true
mountpoint -q /sys/kernel/debug || mount -t debugfs debugfs /sys/kernel/debug || true
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf || true
if ! grep -q ' cgroup2 ' /proc/self/mounts; then
  mkdir -p /sys/fs/cgroup/unified 2>/dev/null || true
  mount -t cgroup2 none /sys/fs/cgroup/unified || echo "install-deps: no cgroup v2: syn_recv records will be off" >&2
fi
