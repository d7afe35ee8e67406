#!/usr/bin/env bash
# Installs everything leakscope needs to build, test and benchmark, from Debian's
# packages only. Idempotent: packages already present are left alone.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config clang llvm
  libbpf-dev bpftool libelf-dev zlib1g-dev libbpfcc-dev
  libcli11-dev libfmt-dev catch2 nlohmann-json3-dev libcapstone-dev
  protobuf-compiler libprotobuf-dev golang-github-google-pprof-dev
  python3.11-dbg python3-flask gunicorn python3-aiohttp
  golang-1.19-go chromium python3-jsonschema
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# speedscope's file-format schema, from its npm package, for the output tests.
SCHEMA=/usr/local/share/leakscope/speedscope-file-format-schema.json
if [ ! -s "$SCHEMA" ]; then
  tmp=$(mktemp -d)
  if command -v npm >/dev/null && (cd "$tmp" && npm pack --silent speedscope@1.25.0 >/dev/null 2>&1 &&
      tar xzf speedscope-1.25.0.tgz package/dist/release/file-format-schema.json); then
    $SUDO mkdir -p "$(dirname "$SCHEMA")"
    $SUDO cp "$tmp/package/dist/release/file-format-schema.json" "$SCHEMA"
  else
    echo "warning: could not fetch speedscope's schema with npm (the image's Node.js); its check will be skipped"
  fi
  rm -rf "$tmp"
fi
echo "dependencies: ok"
