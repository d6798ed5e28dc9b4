#!/usr/bin/env bash
# docker-compose.yml on a machine with podman and no Docker engine, and no container registry:
#
#   deploy/podman/compose.sh up --build -d        # any podman-compose arguments
#   deploy/podman/compose.sh ps | logs | stop | down -v
#   deploy/podman/compose.sh podman ps -a         # plain podman, with the same configuration
#
# 1. Builds the local base images, once (cached in podman's storage, the Debian root file
#    system and the uv wheel under $SKILEEZ_PODMAN_CACHE, default /var/cache/skileez-podman
#    as root, else ~/.cache/skileez-podman): a Debian bookworm minbase from debootstrap and
#    the machine's Debian mirror, and FROM it python (Debian's 3.11, with this machine's CA
#    certificates), postgres and rabbitmq (Debian's packages, with entry points keeping the
#    official images' contracts), and uv (the binaries of the uv wheel that deploy/Dockerfile
#    pins). Each image's tag carries a hash of what it is built from: edit a Containerfile
#    and it is rebuilt.
# 2. Writes the containers.conf podman needs here into a temporary directory (CONTAINERS_CONF;
#    never /etc): runc (crun fails on hybrid cgroups) and lower default ulimits (the defaults
#    fail with `setrlimit ... operation not permitted`).
# 3. Runs podman-compose on the repository's docker-compose.yml with POSTGRES_IMAGE,
#    RABBITMQ_IMAGE, PYTHON_IMAGE and UV_IMAGE set to those images (unless already set), and
#    with deploy/podman/podman-wrapper as its podman: it runs the health checks that
#    `depends_on: condition: service_healthy` waits for (no systemd timers here).
#
# Needs: podman, runc, debootstrap (Debian packages), podman-compose (`uv sync`: the dev group),
# and root for debootstrap. Environment: DEBIAN_MIRROR (default: this machine's apt source),
# SKILEEZ_PODMAN_CACHE, SKILEEZ_PODMAN_REBUILD=1 (rebuild the base images).
set -euo pipefail
shopt -s inherit_errexit

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
if [ "$(id -u)" = 0 ]; then
  cache=${SKILEEZ_PODMAN_CACHE:-/var/cache/skileez-podman}
else
  cache=${SKILEEZ_PODMAN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/skileez-podman}
fi

say() { echo "deploy/podman: $*" >&2; }
die() { say "$*"; exit 1; }

command -v podman >/dev/null || die "podman is not installed (apt-get install podman runc debootstrap)"

work=$(mktemp -d "${TMPDIR:-/tmp}/skileez-podman.XXXXXX")
trap 'rm -rf "$work"' EXIT
cat >"$work/containers.conf" <<'CONF'
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
runtime = "runc"
CONF
export CONTAINERS_CONF="$work/containers.conf"

if [ "${1:-}" = podman ]; then
  shift
  status=0
  "$here/podman-wrapper" "$@" || status=$?
  exit "$status"
fi

debian_mirror() {
  if [ -n "${DEBIAN_MIRROR:-}" ]; then echo "$DEBIAN_MIRROR"; return; fi
  local uri
  uri=$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' \
    | grep -v -e security -e backports | head -n1 || true)
  [ -n "$uri" ] || uri=$(grep -hsE '^deb +(\[[^]]*\] +)?http' /etc/apt/sources.list \
    | grep -v security | sed -E 's/^deb +(\[[^]]*\] +)?//' | awk '{print $1}' | head -n1 || true)
  echo "${uri:-http://deb.debian.org/debian}"
}

# The hash of a Containerfile and of the files its build context holds.
digest() { cat "$@" | sha256sum | cut -c1-12; }

have_image() { [ "${SKILEEZ_PODMAN_REBUILD:-0}" != 1 ] && podman image exists "$1"; }

# base_image SUITE: a Debian SUITE minbase, from debootstrap.
base_image() {
  local suite=$1
  local image=localhost/skileez-local/debian:$suite-minbase tarball=$cache/debian-$suite-minbase.tar
  if ! have_image "$image"; then
    if [ ! -s "$tarball" ] || [ "${SKILEEZ_PODMAN_REBUILD:-0}" = 1 ]; then
      command -v debootstrap >/dev/null || die "debootstrap is not installed (apt-get install debootstrap)"
      local mirror rootfs
      mirror=$(debian_mirror)
      rootfs="$work/rootfs-$suite"
      say "debootstrap --variant=minbase $suite from $mirror (once; cached in $tarball)"
      mkdir -p "$cache"
      debootstrap --variant=minbase "$suite" "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
        || { tail -n 20 "$work/debootstrap.log" >&2; die "debootstrap $suite failed"; }
      rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
      tar -C "$rootfs" --numeric-owner -cf "$tarball.tmp" .
      mv "$tarball.tmp" "$tarball"
      rm -rf "$rootfs"
    fi
    say "podman import $tarball as $image"
    podman import --quiet --change 'CMD ["bash"]' "$tarball" "$image" >/dev/null
  fi
  echo "$image"
}

# build_image NAME CONTEXT_DIR: CONTEXT_DIR holds NAME.Containerfile and what it copies.
build_image() {
  local name=$1 context=$2 base=$3 tag image
  tag=$(cd "$context" && find . -type f | LC_ALL=C sort | xargs cat | cat - <(echo "$base") | sha256sum | cut -c1-12)
  image=localhost/skileez-local/$name:$tag
  if ! have_image "$image"; then
    say "building $image"
    podman build --quiet --build-arg "BASE_IMAGE=$base" -f "$context/$name.Containerfile" \
      -t "$image" "$context" >/dev/null
  fi
  echo "$image"
}

context_of() {
  # A build context of its own per image: the Containerfile and the files it copies.
  local name=$1 dir="$work/context-$1"
  shift
  mkdir -p "$dir"
  cp "$here/$name.Containerfile" "$dir/"
  for file in "$@"; do cp -r "$file" "$dir/"; done
  echo "$dir"
}

uv_image() {
  # The uv that deploy/Dockerfile pins (ARG UV_IMAGE=ghcr.io/astral-sh/uv:<version>).
  local version dir
  version=$(sed -nE 's|^ARG UV_IMAGE=.*/uv:([0-9.]+)$|\1|p' "$root/deploy/Dockerfile")
  [ -n "$version" ] || die "no 'ARG UV_IMAGE=ghcr.io/astral-sh/uv:<version>' in deploy/Dockerfile"
  dir=$cache/uv-$version
  if [ ! -x "$dir/uv" ]; then
    say "downloading the uv $version wheel from PyPI (once; cached in $dir)"
    mkdir -p "$dir"
    # The wheel for this machine, checked against PyPI's sha256, unpacked: its two binaries.
    python3 - "$version" "$(uname -m)" "$dir" <<'PY'
import hashlib, io, json, pathlib, sys, urllib.request, zipfile
version, machine, target = sys.argv[1], sys.argv[2], pathlib.Path(sys.argv[3])
index = urllib.request.Request(  # the simple index (PEP 691 JSON)
    "https://pypi.org/simple/uv/", headers={"Accept": "application/vnd.pypi.simple.v1+json"}
)
with urllib.request.urlopen(index, timeout=60) as answer:
    files = json.load(answer)["files"]
[wheel] = [
    f for f in files
    if f["filename"].startswith(f"uv-{version}-") and f["filename"].endswith(".whl")
    and "manylinux" in f["filename"] and f"_{machine}." in f["filename"]
][:1]
with urllib.request.urlopen(wheel["url"], timeout=300) as answer:
    data = answer.read()
if hashlib.sha256(data).hexdigest() != wheel["hashes"]["sha256"]:
    sys.exit(f"{wheel['filename']}: sha256 mismatch")
with zipfile.ZipFile(io.BytesIO(data)) as archive:
    for name in archive.namelist():
        if name.endswith(("/scripts/uv", "/scripts/uvx")):
            path = target / name.rsplit("/", 1)[1]
            path.write_bytes(archive.read(name))
            path.chmod(0o755)
if not (target / "uv").exists():
    sys.exit(f"no uv binary in {wheel['filename']}")
PY
  fi
  local context
  context=$(context_of uv "$dir/uv" "$dir/uvx")
  build_image uv "$context" "uv==$version"
}

ca_certificates() {
  # This machine's own CA certificates (a TLS-intercepting proxy's among them), for PyPI.
  local dir="$work/ca-certificates"
  mkdir -p "$dir"
  find /usr/local/share/ca-certificates -name '*.crt' -type f -exec cp {} "$dir/" \; 2>/dev/null || true
  echo "$dir"
}

ensure_images() {
  # Python 3.11 (requires-python) and PostgreSQL from bookworm; RabbitMQ from trixie: bookworm's
  # 3.10 refuses deploy/rabbitmq/rabbitmq.conf (`default_queue_type` came in 3.11).
  local bookworm context
  if [ -z "${PYTHON_IMAGE:-}" ] || [ -z "${POSTGRES_IMAGE:-}" ]; then
    bookworm=$(base_image bookworm)
  fi
  if [ -z "${PYTHON_IMAGE:-}" ]; then
    context=$(context_of python "$(ca_certificates)")
    PYTHON_IMAGE=$(build_image python "$context" "$bookworm")
  fi
  if [ -z "${POSTGRES_IMAGE:-}" ]; then
    context=$(context_of postgres "$here/postgres-entrypoint.sh")
    POSTGRES_IMAGE=$(build_image postgres "$context" "$bookworm")
  fi
  if [ -z "${RABBITMQ_IMAGE:-}" ]; then
    context=$(context_of rabbitmq "$here/rabbitmq-entrypoint.sh")
    RABBITMQ_IMAGE=$(build_image rabbitmq "$context" "$(base_image trixie)")
  fi
  if [ -z "${UV_IMAGE:-}" ]; then
    UV_IMAGE=$(uv_image)
  fi
  export PYTHON_IMAGE POSTGRES_IMAGE RABBITMQ_IMAGE UV_IMAGE
}

compose_bin=$(command -v podman-compose || true)
[ -n "$compose_bin" ] || [ ! -x "$root/.venv/bin/podman-compose" ] || compose_bin=$root/.venv/bin/podman-compose
[ -n "$compose_bin" ] || die "podman-compose is not installed (uv sync: it is in the dev group)"

ensure_images
if [ "${1:-}" = images ]; then
  printf 'PYTHON_IMAGE=%s\nPOSTGRES_IMAGE=%s\nRABBITMQ_IMAGE=%s\nUV_IMAGE=%s\n' \
    "$PYTHON_IMAGE" "$POSTGRES_IMAGE" "$RABBITMQ_IMAGE" "$UV_IMAGE"
  exit 0
fi

export SKILEEZ_COMPOSE_STDERR=/proc/$$/fd/2
cd "$root"
compose=("$compose_bin" --podman-path "$here/podman-wrapper" -f "$root/docker-compose.yml")

# `up --build`: podman-compose would build the one image once per service using it, all at
# once; build it once per image first, then `up` without --build.
globals=()
rest=("$@")
while [ "${#rest[@]}" -gt 0 ] && [ "${rest[0]}" != up ]; do
  globals+=("${rest[0]}")
  rest=("${rest[@]:1}")
done
if [ "${#rest[@]}" -gt 0 ] && printf '%s\n' "${rest[@]}" | grep -qx -- --build; then
  python=$(head -n1 "$compose_bin" | sed 's/^#!//')
  mapfile -t builds < <("${compose[@]}" "${globals[@]}" config | "$python" -c '
import sys, yaml
seen = set()
for name, service in yaml.safe_load(sys.stdin)["services"].items():
    if "build" in service and not service.get("profiles") and service.get("image") not in seen:
        seen.add(service.get("image"))
        print(name)
')
  if [ "${#builds[@]}" -gt 0 ]; then
    "${compose[@]}" "${globals[@]}" build "${builds[@]}"
  fi
  up=()
  for arg in "${rest[@]}"; do [ "$arg" = --build ] || up+=("$arg"); done
  set -- "${globals[@]}" "${up[@]}"
fi
"${compose[@]}" "$@"
