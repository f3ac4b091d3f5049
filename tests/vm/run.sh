#!/usr/bin/env bash
# Runs one command as root inside a Debian kernel under qemu (software
# emulation: no /dev/kvm here), where fentry and kprobes work, unlike on the
# host kernel. The host's whole root is the guest's root, read-only over 9p,
# so the build tree and every tool are at the same paths; /tmp, /var/tmp and
# /run are empty tmpfs. Streams the command's output and exits with its code.
#   bash tests/vm/run.sh --kernel 6.1|6.12 [--timeout SECONDS] -- COMMAND ARGS...
#   bash tests/vm/run.sh --kernel 6.1|6.12 --fetch-only
# Exits 124 on timeout, 125 when the VM could not run the command. Needs
# qemu-system-x86 and busybox-static (.ci/install-deps.sh). Kernels are cached
# in tests/vm/.cache (--fetch-only fills the cache and boots nothing), as is
# the console log of each kernel's last failed run (last-failure-SERIES.log).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=$here/.cache

die() {
  echo "vm/run.sh: $*" >&2
  exit 125
}

series='' timeout=600 fetch_only=0
while (($#)); do
  [[ $1 == -- || $1 == --fetch-only || $# -ge 2 ]] || die "$1 needs a value"
  case $1 in
    --fetch-only) fetch_only=1; shift ;;
    --kernel) series=${2:-}; shift 2 ;;
    --timeout) timeout=${2:-}; shift 2 ;;
    --) shift; break ;;
    *) die "unknown argument $1 (usage: run.sh --kernel 6.1|6.12 [--timeout SECONDS] -- COMMAND ARGS...)" ;;
  esac
done
(($#)) || ((fetch_only)) || die "no command (usage: run.sh --kernel 6.1|6.12 [--timeout SECONDS] -- COMMAND ARGS...)"
[[ $timeout =~ ^[0-9]+$ ]] || die "--timeout wants seconds, got '$timeout'"

# The generic flavour: the cloud one has no 9p. Each metapackage depends on the
# current ABI package, whose exact name changes (and leaves the mirror) with
# each kernel update, so it is resolved on every run.
case $series in
  6.1) meta=linux-image-amd64 ;; # bookworm's own kernel
  6.12) meta=linux-image-6.12-amd64 ;; # from bookworm-security
  *) die "--kernel must be 6.1 or 6.12, got '$series'" ;;
esac
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 missing: bash .ci/install-deps.sh"
[[ -x /bin/busybox ]] || die "/bin/busybox missing: bash .ci/install-deps.sh (busybox-static)"

resolve() { apt-cache depends "$meta" 2>/dev/null | awk '$1 == "Depends:" && $2 ~ /^linux-image-/ { print $2; exit }'; }
pkg=$(resolve)
if [[ -z $pkg ]]; then # no package lists yet
  apt-get update -qq || true
  pkg=$(resolve)
fi
# Offline, a cached kernel will do.
[[ -n $pkg ]] || pkg=$(cat "$cache/$series/package" 2>/dev/null) || die "cannot resolve $meta to a kernel package"
[[ $pkg == linux-image-$series.* ]] || die "$meta resolves to $pkg, not a $series kernel"

# Modules that mount the host's root, in load order, and veth for the tests'
# network namespaces. A name missing from the package is built in (6.12 has
# virtio built in, and fscache inside netfs); a real gap shows as a failed mount.
MODULES=(virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci
  netfs fscache 9pnet 9pnet_virtio 9p veth)

# Fetch the kernel once per package: only its vmlinuz and those modules are
# extracted, into the cache (never the host's /boot or /lib/modules).
kdir=$cache/$series
if [[ $(cat "$kdir/package" 2>/dev/null) != "$pkg" ]]; then
  echo "vm/run.sh: fetching $pkg" >&2
  rm -rf "$kdir"
  mkdir -p "$kdir/deb" "$kdir/x" "$kdir/modules"
  (cd "$kdir/deb" && apt-get download -q -o APT::Sandbox::User=root "$pkg" >/dev/null) ||
    { apt-get update -qq && (cd "$kdir/deb" && apt-get download -q -o APT::Sandbox::User=root "$pkg" >/dev/null); } ||
    die "apt-get download $pkg failed"
  deb=$(echo "$kdir"/deb/*.deb)
  names=$(IFS='|' && echo "${MODULES[*]}")
  mapfile -t wanted < <(dpkg-deb -c "$deb" | awk '{ print $6 }' |
    grep -E "^\./boot/vmlinuz-|/kernel/.*/($names)\.ko(\.xz)?$")
  dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$kdir/x" "${wanted[@]}"
  mv "$kdir"/x/boot/vmlinuz-* "$kdir/vmlinuz"
  n=10 # numbered names keep the load order in the guest's glob
  for m in "${MODULES[@]}"; do
    f=$(find "$kdir/x/lib/modules" -name "$m.ko" -o -name "$m.ko.xz")
    [[ -n $f ]] || continue
    # busybox insmod may not read .xz: decompress here.
    if [[ $f == *.xz ]]; then xz -dc "$f" >"$kdir/modules/$n-$m.ko"; else cp "$f" "$kdir/modules/$n-$m.ko"; fi
    n=$((n + 1))
  done
  # The bzImage's own decompressor is slow under emulation (xz: about 2 s on
  # 6.1), so qemu boots the uncompressed ELF through its PVH entry instead.
  # zstd complains of the data after its frame: the ELF check decides.
  unpack() { # MAGIC DECOMPRESSOR...
    local off
    off=$(LC_ALL=C grep -obUaP "$1" "$kdir/vmlinuz" | head -n 1 | cut -d: -f1 || true)
    [[ -z $off ]] || tail -c +$((off + 1)) "$kdir/vmlinuz" | "${@:2}" >"$kdir/vmlinux" 2>/dev/null || true
  }
  unpack '\xfd7zXZ\x00' xz -dc --single-stream # 6.1
  [[ -s $kdir/vmlinux ]] || unpack '\x28\xb5\x2f\xfd' zstd -dc # 6.12
  [[ $(head -c 4 "$kdir/vmlinux" 2>/dev/null) == $'\x7fELF' ]] || cp "$kdir/vmlinuz" "$kdir/vmlinux"
  rm -rf "$kdir/deb" "$kdir/x" "$kdir/vmlinuz"
  echo "$pkg" >"$kdir/package" # last: marks the cache entry complete
fi
((fetch_only)) && exit 0

# The initramfs is built for each run: busybox, /init, the modules, and the
# command (shell-quoted, run from the host's current directory).
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/root/bin" "$work/root/modules" "$work/root/proc" "$work/root/sys" "$work/root/dev"
cp /bin/busybox "$work/root/bin/"
cp "$here/init.sh" "$work/root/init"
chmod +x "$work/root/init"
cp "$kdir"/modules/*.ko "$work/root/modules/" 2>/dev/null || true
printf 'cd %q || exit 125; exec %s\n' "$PWD" "$(printf '%q ' "$@")" >"$work/root/cmd"
# The current directory is shared once more on its own (init.sh mounts it at
# the same path), so a checkout under /tmp, /var/tmp or /run, which are the
# guest's own tmpfs, is still there.
printf '%s\n' "$PWD" >"$work/root/workdir"
(cd "$work/root" && find . | /bin/busybox cpio -o -H newc 2>/dev/null) >"$work/initrd"

# Shows the console lines between the start and result markers (the kernel's
# boot is hidden), minus the empty line init.sh puts before the marker.
# SOCKSCOPE_VM_DEBUG=1 shows the whole console, with the kernel's messages.
debug=${SOCKSCOPE_VM_DEBUG:-0}
append="console=ttyS0 panic=-1 rdinit=/init"
((debug)) && append+=" loglevel=7" || append+=" quiet loglevel=3"
log=$work/console.log
: >"$log"
stream() {
  local on=0 held=0 line
  while IFS= read -r line || [[ -n $line ]]; do
    line=${line%$'\r'}
    printf '%s\n' "$line" >>"$log"
    ((debug)) && { printf '%s\n' "$line"; continue; }
    if ((!on)); then
      [[ $line == SOCKSCOPE_VM_START ]] && on=1
      continue
    fi
    if [[ $line =~ ^SOCKSCOPE_VM_RC=[0-9]+$ ]]; then held=0 on=0; continue; fi
    ((held)) && echo
    held=0
    if [[ -z $line ]]; then held=1; else printf '%s\n' "$line"; fi
  done
}

# quiet loglevel=3: only the kernel's errors reach the console. panic=-1 with
# -no-reboot: a guest panic ends qemu at once instead of waiting for the timeout.
# One vCPU: with two, a 6.1 guest running the kprobe backend twice locked up
# both CPUs (soft lockup, in an idle task and a test process) under software
# emulation; SOCKSCOPE_VM_SMP sets another count.
smp=${SOCKSCOPE_VM_SMP:-1}
[[ $smp =~ ^[1-9][0-9]*$ ]] || die "SOCKSCOPE_VM_SMP wants a CPU count, got '$smp'"
set +e
timeout --foreground -k 5 "$timeout" qemu-system-x86_64 \
  -machine pc,accel=tcg -cpu max -smp "$smp" -m 2048 \
  -nodefaults -display none -no-reboot -serial stdio \
  -kernel "$kdir/vmlinux" -initrd "$work/initrd" \
  -append "$append" \
  -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
  -virtfs "local,path=$PWD,mount_tag=checkout,security_model=none,readonly=on,multidevs=remap" \
  </dev/null 2>"$work/qemu.err" | stream
status=("${PIPESTATUS[@]}")
set -e

rc=$(sed -n 's/^SOCKSCOPE_VM_RC=\([0-9]*\)$/\1/p' "$log" | tail -n 1)
[[ -n $rc ]] && exit "$rc"
mkdir -p "$cache"
cat "$work/qemu.err" "$log" >"$cache/last-failure-$series.log" 2>/dev/null || true
where="(console: tests/vm/.cache/last-failure-$series.log)"
((status[0] == 124 || status[0] == 137)) && { echo "vm/run.sh: timed out after ${timeout}s $where" >&2; exit 124; }
why=$(grep -m 1 -E '^vm-init: |Kernel panic|^qemu-system' "$cache/last-failure-$series.log" || true)
die "the VM ended without the command's exit code: ${why:-qemu exited ${status[0]}} $where"
