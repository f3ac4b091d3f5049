#!/usr/bin/env bash
# The layering rule (README: Layout), checked on every #include under
# userspace/ (the argument; default: the checkout's). Dependencies point down
# only:
#
#   cli -> {probes, track, render, spawn} -> events -> bpf/sockscope.h
#
# track never includes render or probes, render never includes probes, events
# knows nothing above it, and only probes sees the BPF skeleton. A library's
# headers (<fmt/...>, <bpf/...>) are allowed only in the layers whose CMake
# library declares it (userspace/CMakeLists.txt); a header from an unknown
# library fails until it is added here and there. Prints each offending
# file:line and exits 1; needs no build and no root.
set -euo pipefail
root=${1:-$(dirname "$0")/../userspace}
cd "$root"

# What each layer may include: its own directory always; these layers; these
# libraries. "contract" is bpf/sockscope.h, "skeleton" the generated
# sockscope_bpf.skel.h.
declare -A layers=(
  [events]="contract"
  [track]="events contract"
  [render]="track events contract"
  [probes]="events contract skeleton"
  [spawn]="events contract"
  [cli]="probes track render spawn events contract"
  [main]="cli"
)
declare -A libraries=(
  [events]="fmt"
  [track]=""
  [render]="fmt"
  [probes]="bpf fmt spdlog"
  [spawn]=""
  [cli]="CLI fmt spdlog"
  [main]=""
)
order=(events track render probes spawn cli)
# System headers with a directory (<sys/socket.h>): allowed everywhere.
system_dirs=" sys arpa netinet linux net asm "

has() { [[ " $1 " == *" $2 "* ]]; }

bad=0
report() {
  echo "$1: $2" >&2
  bad=1
}

files=(main.cpp)
for layer in "${order[@]}"; do
  [[ -d $layer ]] || { report "$layer/" "the layer's directory is missing"; continue; }
  while IFS= read -r f; do files+=("$f"); done < <(find "$layer" -name '*.[ch]pp' | sort)
done
# Nothing outside the layers but main.cpp.
while IFS= read -r f; do
  [[ " ${files[*]} " == *" $f "* ]] || report "userspace/$f" "not in a layer (${order[*]}, or main.cpp)"
done < <(find . -name '*.[ch]pp' -printf '%P\n' | sort)

for f in "${files[@]}"; do
  layer=${f%%/*}
  [[ $f == main.cpp ]] && layer=main
  while IFS=: read -r line text; do
    where="userspace/$f:$line"
    if [[ $text =~ ^[[:space:]]*#[[:space:]]*include[[:space:]]*\"([^\"]+)\" ]]; then
      inc=${BASH_REMATCH[1]}
      case $inc in
        sockscope.h) target=contract ;;
        sockscope_bpf.skel.h) target=skeleton ;;
        */*) target=${inc%%/*} ;;
        *) # beside the including file
          if [[ -e $(dirname "$f")/$inc ]]; then target=$layer; else target="?"; fi ;;
      esac
      if [[ $target == "?" || -z ${layers[$target]+x} && $target != contract && $target != skeleton ]]; then
        report "$where" "$layer includes \"$inc\", which is in no layer"
      elif [[ $target != "$layer" ]] && ! has "${layers[$layer]}" "$target"; then
        report "$where" "$layer includes \"$inc\" ($target); $layer may include only: $layer ${layers[$layer]}"
      fi
    elif [[ $text =~ ^[[:space:]]*#[[:space:]]*include[[:space:]]*\<([^/\>]+)/[^\>]*\> ]]; then
      lib=${BASH_REMATCH[1]}
      has "$system_dirs" "$lib" && continue
      if ! has "${libraries[$layer]}" "$lib"; then
        report "$where" "$layer includes <$lib/...>, not a library it declares (${libraries[$layer]:-none})"
      fi
    fi
  done < <(grep -n '^[[:space:]]*#[[:space:]]*include' "$f" || true)
done

if ((bad)); then
  echo "layering: includes must point down (README: Layout)" >&2
  exit 1
fi
echo "layering: ${#files[@]} files, every include points down"
