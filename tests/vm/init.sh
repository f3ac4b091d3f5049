#!/bin/busybox sh
# PID 1 of the guest that tests/vm/run.sh boots: mounts the host's root
# (read-only, over 9p) with the kernel filesystems the tracer needs, runs the
# command that run.sh put in /cmd, prints SOCKSCOPE_VM_RC=<exit code> on the
# console and powers off. Lines starting with "vm-init:" are run.sh's errors.
/bin/busybox --install -s /bin
export PATH=/bin

fail() {
  echo "vm-init: $*"
  poweroff -f
}

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

# virtio and 9p are modules in Debian's kernels; run.sh copied the ones this
# kernel has (some are built in on 6.12) numbered in load order.
for m in /modules/*.ko; do
  [ -e "$m" ] || continue
  insmod "$m" || fail "insmod $m failed"
done

r=/newroot
mkdir -p $r
# msize: bigger 9p messages read binaries faster. cache=loose: the host's files
# do not change under a run, so the guest may cache them (5x faster than none
# for a program run over and over).
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose hostroot $r ||
  fail "cannot mount the host's root over 9p"

# The host's root is read-only: give the places programs write to a tmpfs.
for d in tmp run var/tmp; do mount -t tmpfs tmpfs $r/$d || fail "cannot mount tmpfs on /$d"; done
chmod 1777 $r/tmp $r/var/tmp
mkdir -p $r/run/netns $r/run/lock # ip netns add bind-mounts files here

# The host's current directory, at its own path: it may lie under one of the
# tmpfs just mounted (a clone in /tmp).
w=$(cat /workdir)
mkdir -p "$r$w" 2>/dev/null
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose checkout "$r$w" ||
  fail "cannot mount the current directory $w over 9p"

mount -t proc proc $r/proc
mount -t sysfs sysfs $r/sys
mount -t devtmpfs devtmpfs $r/dev
mkdir -p $r/dev/pts $r/dev/shm
mount -t devpts devpts $r/dev/pts
mount -t tmpfs tmpfs $r/dev/shm
mount -t tracefs tracefs $r/sys/kernel/tracing # libbpf reads tracepoint ids here
mount -t debugfs debugfs $r/sys/kernel/debug
mount -t bpf bpf $r/sys/fs/bpf
# Same layout as the host: cgroup v2 at /sys/fs/cgroup/unified (sock_ops and
# cgroup_sock_addr programs attach there). sysfs allows no mkdir: tmpfs first.
mount -t tmpfs tmpfs $r/sys/fs/cgroup
mkdir -p $r/sys/fs/cgroup/unified
mount -t cgroup2 cgroup2 $r/sys/fs/cgroup/unified || fail "cannot mount cgroup2"

ip link set lo up # down in a bare init

echo SOCKSCOPE_VM_START
# A clean environment (the kernel passes HOME=/ and TERM=linux); stdin is
# /dev/null since nothing types on the console.
chroot $r /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  HOME=/root TERM=dumb LANG=C.UTF-8 /bin/bash -c "$(cat /cmd)" </dev/null
rc=$?
# The empty line ends output that lacks a final newline; run.sh drops it.
printf '\nSOCKSCOPE_VM_RC=%d\n' $rc
# stty sets the console with TCSADRAIN: waits until the marker has left the UART.
stty -F /dev/console -ixon 2>/dev/null
poweroff -f
