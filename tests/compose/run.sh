#!/usr/bin/env bash
# CTest entry point of the Docker Compose test (tests/compose/compose_test.py): builds both images
# offline, runs docker-compose.yml under a unique project on random host ports, tears it down.
# Exit 0 pass, 1 fail, 77 skipped (no Docker engine answers). Needs root only when the local
# debian:bookworm-slim base image has to be created (scripts/docker-base-image.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
if [[ ! -x /usr/bin/python3 ]]; then
  if docker info >/dev/null 2>&1; then
    echo "compose test: /usr/bin/python3 is missing (apt-get install python3)" >&2
    exit 1
  fi
  echo "SKIP: no Docker engine answers"
  exit 77
fi
exec /usr/bin/python3 tests/compose/compose_test.py "$@"
