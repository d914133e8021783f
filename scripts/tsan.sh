#!/usr/bin/env bash
# Builds the engine's concurrency-relevant suites with ThreadSanitizer (clang-14, -O1 -g1) in
# build-tsan/ and runs the collection's concurrency tests (ConcurrencyTest, RaceTest, StressTest,
# CheckpointOutsideLockTest, FairnessTest, the background rebuild under searches), by default;
# --all runs the whole collection, index and db suites (hours under TSAN on 2 cores), --server
# adds sextantd's end-to-end suite. Fails on any data race, lock-order inversion or other
# TSAN report in our code (halt_on_error). Not part of scripts/test.sh: the build alone takes
# longer than CI's budget allows (docs/reliability.md, "ThreadSanitizer").
#
#   bash scripts/tsan.sh                 the collection's concurrency tests (~3 min to run, once built)
#   bash scripts/tsan.sh --all           every collection, index and db test
#   bash scripts/tsan.sh --server        the default set, plus server_test
#   bash scripts/tsan.sh -R RaceTest     only the tests whose ctest name matches (ctest -R)
#
# Debian's librocksdb is not built with -fsanitize=thread, so its own synchronisation is invisible
# to TSAN: tests/tsan.supp suppresses reports with a RocksDB frame and RocksDB's write-group
# merge (std::string::_M_append, a documented blind spot); a race between our own stacks is reported. Tests that fork without exec skip under TSAN
# (SEXTANT_SKIP_FORK_UNDER_TSAN in tests/test_util.h).
set -euo pipefail
cd "$(dirname "$0")/.."

targets=(collection_test index_test db_test)
ctest_args=(-R '^(ConcurrencyTest|RaceTest|StressTest|CheckpointOutsideLockTest|FairnessTest)\.|SetIndexRebuildsInTheBackgroundWhileSearchesContinue')
server=0
while [ $# -gt 0 ]; do
  case "$1" in
    --server) targets+=(server_test); server=1; shift ;;
    --all) ctest_args=(-L '^(collection|index|db)$'); shift ;;
    -R) ctest_args=(-R "$2"); shift 2 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "tsan.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

if ! command -v clang++-14 >/dev/null; then
  echo "tsan.sh: needs clang-14: apt-get install clang-14 (scripts/install-deps.sh installs it)" >&2
  exit 2
fi
jobs="${SEXTANT_JOBS:-2}"
launcher=()
if command -v ccache >/dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi

echo "== ThreadSanitizer build (clang-14, -O1 -g1) in build-tsan/: ${targets[*]}"
cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++-14 \
  -DCMAKE_C_COMPILER=clang-14 -DSEXTANT_SANITIZE=thread -DSEXTANT_WERROR=ON \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" \
  -DSEXTANT_BUILD_BENCH=OFF "${launcher[@]}" >/dev/null
cmake --build build-tsan -j "$jobs" --target "${targets[@]}"

echo "== under ThreadSanitizer"
export TSAN_OPTIONS="suppressions=$PWD/tests/tsan.supp:halt_on_error=1:second_deadlock_stack=1:history_size=4"
ctest --test-dir build-tsan --output-on-failure -j "$jobs" "${ctest_args[@]}"
if [ "$server" = 1 ]; then ctest --test-dir build-tsan --output-on-failure -j "$jobs" -R '^server\.'; fi
