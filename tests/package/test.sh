#!/usr/bin/env bash
# The Debian package end to end (README: Install):
#   bash tests/package/test.sh BUILD_DIR
# runs cpack in BUILD_DIR (sockscope, receiver and sender must be built
# there), then installs the .deb with apt-get, runs what it installed, and
# removes it with apt-get, all inside a mount and network namespace whose
# /usr, /etc and /var are overlays with their upper layers on a tmpfs: dpkg's
# database and every file apt and dpkg write live and die with the namespace,
# and with no network apt can fetch nothing (the package's dependencies are
# the build's, already installed). Then checks that the host has no
# sockscope and that its dpkg database did not change. One PASS or FAIL line
# a check; exits 1 on any failure. Needs root; skipped (exit 0) without it.
set -euo pipefail

failures=0
pass() { echo "PASS: $*"; }
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}
# check DESCRIPTION COMMAND...: PASS when COMMAND succeeds.
check() {
  local what=$1
  shift
  if "$@"; then pass "$what"; else fail "$what"; fi
}
# quietly COMMAND..., fails COMMAND...: COMMAND succeeds, or fails; its output dropped.
quietly() { "$@" >/dev/null 2>&1; }
fails() { ! "$@" >/dev/null 2>&1; }

# Inside the namespace: `test.sh --inside DEB VERSION SCRATCH`.
inside() {
  local deb=$1 version=$2 scratch=$3
  # Nothing mounted here is seen outside: unshare made every mount private.
  mount -t tmpfs sockscope-package-test "$scratch"
  local dir
  for dir in usr etc var; do
    mkdir "$scratch/$dir" "$scratch/$dir.work"
    mount -t overlay overlay -o "lowerdir=/$dir,upperdir=$scratch/$dir,workdir=$scratch/$dir.work" "/$dir"
  done
  # What apt-get said last, shown when it failed.
  local log=$scratch/apt.log

  # apt knows no archive here (no sources, no network): what the package
  # needs is installed already, or the install fails; and it reads only
  # dpkg's database, not every package list (seconds saved). Not
  # --no-download: apt 2.6 then refuses a .deb given by its path ("Pathname
  # to install is not absolute"). APT::Sandbox::User=root: the .deb is read
  # from the build directory, which apt's own user (_apt) may not be allowed
  # to read.
  mkdir "$scratch/no-sources"
  local -a apt=(apt-get -y --no-install-recommends -o Dir::Etc::SourceList=/dev/null
    -o "Dir::Etc::SourceParts=$scratch/no-sources" -o APT::Sandbox::User=root -o Dpkg::Use-Pty=0)
  export DEBIAN_FRONTEND=noninteractive
  # man-db's trigger re-indexes every man page after each install and
  # removal (5 to 10 s here); `man -w` needs no index. Its flag file is the
  # overlay's copy.
  rm -f /var/lib/man-db/auto-update
  if "${apt[@]}" install "$deb" >"$log" 2>&1; then
    pass "apt-get install $(basename "$deb"), offline"
  else
    fail "apt-get install $(basename "$deb"):"
    sed 's/^/  | /' "$log"
    return 1
  fi

  local out
  check "sockscope is /usr/bin/sockscope on PATH" [ "$(command -v sockscope)" = /usr/bin/sockscope ]
  out=$(sockscope --version 2>&1 | head -n 1) || true
  check "sockscope --version prints 'sockscope $version' (printed '$out')" [ "$out" = "sockscope $version" ]
  out=$(man -w sockscope 2>&1) || true
  check "man -w sockscope finds the page under /usr/share/man/man1 ($out)" \
    grep -qxE '/usr/share/man/man1/sockscope\.1(\.gz)?' <<<"$out"
  check "the man page is this version's (.TH says sockscope $version)" \
    grep -qF "\"sockscope $version\"" < <(zcat -f "$out" 2>/dev/null | grep '^\.TH')
  local demo
  for demo in sockscope-receiver sockscope-sender; do
    check "$demo is /usr/bin/$demo on PATH" [ "$(command -v "$demo")" = "/usr/bin/$demo" ]
    check "$demo --help runs" quietly "$demo" --help
  done
  local completion=/usr/share/bash-completion/completions/sockscope
  check "the bash completion is $completion and completes subcommands" \
    [ "$(bash -c 'source "$1"; COMP_WORDS=(sockscope ex); COMP_CWORD=1; _sockscope; echo "${COMPREPLY[*]}"' _ \
      "$completion" 2>&1)" = explain ]

  if "${apt[@]}" remove sockscope >"$log" 2>&1; then
    pass "apt-get remove sockscope"
  else
    fail "apt-get remove sockscope:"
    sed 's/^/  | /' "$log"
  fi
  check "after the removal, no sockscope on PATH" [ -z "$(command -v sockscope)" ]
  local file
  for file in /usr/bin/sockscope /usr/bin/sockscope-receiver /usr/bin/sockscope-sender "$completion" \
    /usr/share/man/man1/sockscope.1.gz; do
    check "after the removal, no $file" [ ! -e "$file" ]
  done
  check "after the removal, dpkg -s sockscope fails" fails dpkg -s sockscope
  ((failures == 0))
}

if [[ ${1-} == --inside ]]; then
  shift
  inside "$@"
  exit
fi

if [[ $# -ne 1 ]]; then
  echo "usage: $0 BUILD_DIR" >&2
  exit 2
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "package test: skipped: needs root (apt-get and dpkg, in a mount namespace with overlays)"
  exit 0
fi
build=$(cd "$1" && pwd)
self=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
for bin in sockscope demos/receiver demos/sender; do
  if [[ ! -x $build/$bin ]]; then
    echo "FAIL: $build/$bin is not built: cpack packages what is built (build sockscope, receiver and sender)"
    exit 1
  fi
done
if dpkg -s sockscope >/dev/null 2>&1 || [[ -e /usr/bin/sockscope ]]; then
  echo "FAIL: the host already has sockscope installed: this test checks that it leaves the host without one"
  exit 1
fi

# The project's version, as CPack has it (the project() VERSION).
version=$(sed -n 's/^set(CPACK_PACKAGE_VERSION "\(.*\)")$/\1/p' "$build/CPackConfig.cmake")
deb=$build/sockscope_${version}_$(dpkg --print-architecture).deb
rm -f "$build"/sockscope_*.deb
cpack_log=$build/package-test-cpack.log
if (cd "$build" && cpack -G DEB) >"$cpack_log" 2>&1 && [[ -f $deb ]]; then
  pass "cpack wrote $(basename "$deb")"
else
  sed 's/^/  | /' "$cpack_log"
  fail "cpack did not write $(basename "$deb")"
  exit 1
fi
depends=$(dpkg-deb -f "$deb" Depends)
echo "  Depends: $depends"
check "the package is sockscope, version $version" \
  [ "$(dpkg-deb -f "$deb" Package)/$(dpkg-deb -f "$deb" Version)" = "sockscope/$version" ]
check "its Depends name libbpf1 (dpkg-shlibdeps)" grep -qw libbpf1 <<<"$depends"
check "its Depends name no -dev package" fails grep -q -- -dev <<<"$depends"

scratch=$(mktemp -d /tmp/sockscope-package-test.XXXXXX)
trap 'rmdir "$scratch"' EXIT
if unshare --mount --net --fork -- bash "$self" --inside "$deb" "$version" "$scratch"; then
  pass "in the namespace: installed, ran, removed"
else
  fail "in the namespace (above)"
fi

check "the host has no /usr/bin/sockscope" [ ! -e /usr/bin/sockscope ]
check "on the host, dpkg -s sockscope fails" fails dpkg -s sockscope
check "the host's dpkg database has no file list for sockscope" [ ! -e /var/lib/dpkg/info/sockscope.list ]
check "no overlay is left mounted on the host's /usr" fails findmnt -n -t overlay /usr

if ((failures)); then
  echo "package test: $failures failed"
  exit 1
fi
echo "package test: all passed"
