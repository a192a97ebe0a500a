#!/usr/bin/env bash
# Builds the meshkv container image (deploy/docker/Dockerfile) and tags it twice: meshkv:local (what
# docker-compose.yml runs) and meshkv:<version>, the version of the project() line of the root
# CMakeLists.txt (the one `meshkv-server --version` reports).
#
#   deploy/docker/build.sh [docker build args...]     e.g. --quiet
#
# The Dockerfile has two stages. The classic builder (the only one docker-compose 1.x drives, and
# the one used here) keeps the last image of the build stage, untagged: a dangling image after every
# build. So the build stage is built first under its own tag, meshkv-build:local; the image build
# then reuses its layers as cache (an unchanged source tree compiles nothing) and leaves nothing
# dangling. `docker image rm meshkv-build:local` drops the compile cache.
#
# Environment: MESHKV_IMAGE_REPO (default meshkv; the repository of both tags), MESHKV_BUILD_IMAGE
# (default meshkv-build:local), MESHKV_BUILD_JOBS (compile parallelism; default all cores).
# Prints the tags it made on the last line.
set -euo pipefail
cd "$(dirname "$0")/../.."

version="$(sed -n 's/^project(meshkv VERSION \([0-9][0-9.]*\).*/\1/p' CMakeLists.txt)"
[[ -n "$version" ]] || { echo "build.sh: no project(meshkv VERSION x.y.z) line in CMakeLists.txt" >&2; exit 1; }
repo="${MESHKV_IMAGE_REPO:-meshkv}"
builder="${MESHKV_BUILD_IMAGE:-meshkv-build:local}"

export DOCKER_BUILDKIT=0
args=(-f deploy/docker/Dockerfile --build-arg "BUILD_JOBS=${MESHKV_BUILD_JOBS:-}" "$@")
docker build "${args[@]}" --target build -t "$builder" .
docker build "${args[@]}" -t "$repo:local" -t "$repo:$version" .
echo "built $repo:local $repo:$version (build stage: $builder)"
