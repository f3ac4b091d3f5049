#!/usr/bin/env bash
# `explain --format mermaid` in a real browser: the Mermaid of E3 (the receiver
# stopped after listen(): paused.jsonl), E5 (backlog 1, three senders:
# backlog.jsonl, one diagram a connection) and the veth pair (veth.jsonl,
# veth6.jsonl), each recording replayed through the real tracker and drawn
# by the real MermaidRenderer (unit_tests' hidden [.mermaid-stories] test),
# rendered by mermaid 11 from npm in Debian's headless Chromium at a normal
# page width (a 1000 px column in a 1024 px window). page.js checks each
# diagram: no parse error, its natural width within the column, and every
# note and message label within the participants' span; one PASS or FAIL line
# a diagram, and exit 1 when any fails. chromium.js drives the browser (one
# start for all) and leaves a screenshot of each diagram, OUT/NAME.png.
#
#   bash tests/mermaid/render.sh --unit-tests build/tests/unit_tests [--out DIR]
#   bash tests/mermaid/render.sh --mmd DIR-OF-MMD-FILES [--out DIR]
#
# Installs nothing from Debian: chromium, node, npm and the Liberation fonts
# (Arial's metrics, what mermaid's default font list finds on Linux) are
# .ci/install-deps.sh's; without one it exits 77, which ctest reports as
# skipped. mermaid@11 is installed once with npm into
# tests/mermaid/.cache/mermaid-11/ (git ignored; SOCKSCOPE_MERMAID_CACHE
# moves .cache) and reused while present: delete it to take a newer 11.x.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
unit_tests="" mmd="" out=""
while (($#)); do
  case $1 in
    --unit-tests) unit_tests=$2; shift 2 ;;
    --mmd) mmd=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) echo "usage: render.sh (--unit-tests PATH | --mmd DIR) [--out DIR]" >&2; exit 2 ;;
  esac
done
if [[ -z $unit_tests && -z $mmd ]]; then
  echo "usage: render.sh (--unit-tests PATH | --mmd DIR) [--out DIR]" >&2
  exit 2
fi
for tool in chromium node npm; do
  if ! command -v "$tool" >/dev/null; then
    echo "render: skipped: no $tool (bash .ci/install-deps.sh installs it)"
    exit 77
  fi
done
# Another font measures otherwise: DejaVu Sans, Verdana's width, makes E3 1114
# px at its narrowest.
if command -v fc-list >/dev/null && ! fc-list | grep -q 'Liberation Sans'; then
  echo "render: skipped: no Liberation Sans (fonts-liberation: bash .ci/install-deps.sh installs it)"
  exit 77
fi
out=${out:-$(mktemp -d /tmp/sockscope-mermaid.XXXXXX)}
mkdir -p "$out"
out=$(cd "$out" && pwd)

# mermaid@11 from npm, once: installed beside its place, then moved into it,
# so a cut-short install is never taken for a whole one.
cache=${SOCKSCOPE_MERMAID_CACHE:-$here/.cache}
prefix=$cache/mermaid-11
mermaid_js=$prefix/node_modules/mermaid/dist/mermaid.min.js
if [[ ! -f $mermaid_js ]]; then
  mkdir -p "$cache"
  staging=$(mktemp -d "$cache/install.XXXXXX")
  trap 'rm -rf "$staging"' EXIT
  echo "render: npm install mermaid@11 into $prefix"
  npm install --no-save --no-audit --no-fund --loglevel=error --prefix "$staging" mermaid@11 >&2 ||
    { echo "render: npm install mermaid@11 failed" >&2; exit 1; }
  rm -rf "$prefix"
  mv "$staging" "$prefix"
  trap - EXIT
fi
version=$(node -p "require('$prefix/node_modules/mermaid/package.json').version")

# The diagrams: one .mmd a connection story.
if [[ -n $unit_tests ]]; then
  mmd=$out/mmd
  rm -rf "$mmd"
  mkdir -p "$mmd"
  SOCKSCOPE_MERMAID_OUT=$mmd "$unit_tests" "[.mermaid-stories]" >"$out/unit_tests.log" ||
    { cat "$out/unit_tests.log"; echo "render: writing the diagrams failed" >&2; exit 1; }
fi
shopt -s nullglob
files=("$mmd"/*.mmd)
if ((${#files[@]} == 0)); then
  echo "render: no .mmd files in $mmd" >&2
  exit 1
fi
node -e '
  const fs = require("fs"), path = require("path");
  const ds = process.argv.slice(1).map((p) => ({name: path.basename(p, ".mmd"), text: fs.readFileSync(p, "utf8")}));
  process.stdout.write("window.DIAGRAMS = " + JSON.stringify(ds) + ";\n");
' "${files[@]}" >"$out/diagrams.js"
cat >"$out/page.html" <<EOF
<!doctype html>
<html><head><meta charset="utf-8"><title>sockscope: explain --format mermaid</title>
<style>body { margin: 12px; background: white; } .column { width: 1000px; margin-bottom: 24px; }</style>
</head><body><pre id="results"></pre><div id="diagrams"></div>
<script src="file://$mermaid_js"></script>
<script src="diagrams.js"></script>
<script src="file://$here/page.js"></script>
</body></html>
EOF

start=$SECONDS
results=$(node "$here/chromium.js" "$out/page.html" "$out") || true
echo "render: mermaid $version, $(chromium --version 2>/dev/null | head -1), ${#files[@]} diagrams, \
$((SECONDS - start)) s in Chromium; page, screenshots (NAME.png) and log in $out"
echo "$results"
# Every diagram must have passed, and said so.
if [[ $(grep -c '^PASS ' <<<"$results") -ne ${#files[@]} ]] || grep -q '^FAIL ' <<<"$results"; then
  exit 1
fi
