#!/usr/bin/env bash
# Installs what is missing, builds, and runs the tests (CTest). Exits
# non-zero when any test fails or any build warns.
#
#   scripts/test.sh                 the test command: every test in build/
#                                   (GCC, warnings as errors), then, when they
#                                   pass, the unit and sim tests again in
#                                   build-asan/ (clang-14, ASan+UBSan, thread-
#                                   safety analysis, warnings as errors;
#                                   only their targets; MESHKV_ASAN_SIM_SEEDS,
#                                   default 6, simulation seeds)
#   scripts/test.sh -L unit         only tests with a label (unit, service,
#                                   process, sim, netns, clients, compose, ...)
#   scripts/test.sh -R store        only tests whose name matches
#                                   (with arguments, build/ only: no ASan pass)
#   scripts/test.sh --sanitize=address [ctest args]
#                                   build-asan/ only: every test, or those the
#                                   ctest arguments select (tests/lsan.supp:
#                                   leaks inside Debian's c-ares)
#   scripts/test.sh --sanitize=thread [ctest args]
#                                   build-tsan/ (TSan, against an Abseil built
#                                   with TSan by scripts/tsan_abseil.sh; Debian's
#                                   gRPC, protobuf and RocksDB are not
#                                   instrumented: tests/tsan.supp says what that
#                                   hides). Slow, so not part of the test
#                                   command; `--sanitize=thread -L process` is
#                                   the set known to pass.
#   scripts/test.sh --soak[=SECONDS]
#                                   the fault campaign only (netns, needs
#                                   root), new seeds for SECONDS (default
#                                   MESHKV_SOAK_SECONDS, else 1200); prints
#                                   each seed's summary, and on a failure the
#                                   seed and a one-line replay command
# Extra arguments go to ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

if [ "$#" -gt 0 ] && [[ "$1" == --soak* ]]; then
  soak="${1#--soak}"
  soak="${soak#=}"
  export MESHKV_SOAK_SECONDS="${soak:-${MESHKV_SOAK_SECONDS:-1200}}"
  scripts/setup.sh --test --target=fault_campaign_test --target=meshkv-server
  build="${MESHKV_BUILD_DIR:-build}"
  MESHKV_BIN_DIR="$root/$build/bin" exec "$build/bin/fault_campaign_test" \
    --gtest_filter='FaultCampaign.RandomSchedule*'
fi

sanitize=""
if [ "$#" -gt 0 ]; then
  case "$1" in
    --sanitize=address|--sanitize=thread) sanitize="${1#--sanitize=}"; shift ;;
    --sanitize=*) echo "test.sh: --sanitize takes address or thread" >&2; exit 2 ;;
  esac
fi

# Every finding stops the process that has it, and says where.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:check_initialization_order=1:strict_string_checks=1}"
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$root/tests/lsan.supp:print_suppressions=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
export TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1:suppressions=$root/tests/tsan.supp}"
symbolizer="$(command -v llvm-symbolizer-14 || command -v llvm-symbolizer || true)"
[ -n "$symbolizer" ] && export ASAN_SYMBOLIZER_PATH="$symbolizer" TSAN_SYMBOLIZER_PATH="$symbolizer"

# run_suite <build folder> [ctest args]
run_suite() {
  local dir="$1"
  shift
  (cd "$dir" && ctest --output-on-failure --timeout 1200 "$@")
}

if [ -n "$sanitize" ]; then
  dir="build-asan"
  [ "$sanitize" = thread ] && dir="build-tsan"
  dir="${MESHKV_BUILD_DIR:-$dir}"
  MESHKV_BUILD_DIR="$dir" scripts/setup.sh --test "--sanitize=$sanitize"
  run_suite "$dir" "$@"
  exit
fi

scripts/setup.sh --test
run_suite "${MESHKV_BUILD_DIR:-build}" "$@"
# The test command also runs the unit and simulation tests under ASan+UBSan
# (a subset given on the command line is for quick runs: build/ only).
if [ "$#" -eq 0 ]; then
  echo "== ASan+UBSan: unit and sim tests in build-asan"
  # Only what those tests run (their executables; the two link checks read
  # mesh_test), so the pass stays within the suite's time budget.
  main_build="${MESHKV_BUILD_DIR:-build}"
  asan_targets=()
  while read -r name; do
    [ -x "$main_build/bin/$name" ] && asan_targets+=("$name")
  done < <(cd "$main_build" && ctest -N -L '^(unit|sim)$' | sed -n 's/^ *Test *#[0-9]*: //p')
  MESHKV_BUILD_DIR=build-asan MESHKV_BUILD_TARGETS="${asan_targets[*]}" \
    scripts/setup.sh --test --sanitize=address
  MESHKV_SIM_SEEDS="${MESHKV_ASAN_SIM_SEEDS:-6}" run_suite build-asan -L '^(unit|sim)$'
fi
