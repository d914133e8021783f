#!/usr/bin/env bash
# Sets up, builds and runs every test: installs the build dependencies, builds in build/, runs the
# whole suite with ctest, runs it again with the SIMD kernels forced to scalar, then builds with
# AddressSanitizer + UndefinedBehaviorSanitizer in build-asan/ and runs the suite once more.
#
#   bash scripts/test.sh              everything (what CI runs)
#   SEXTANT_TEST_SANITIZE=0 bash scripts/test.sh    skip the sanitizer build (faster, local use)
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh

jobs="${SEXTANT_JOBS:-2}"

echo "== build (RelWithDebInfo, warnings as errors)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSEXTANT_WERROR=ON >/dev/null
cmake --build build -j "$jobs"

echo "== tests"
ctest --test-dir build --output-on-failure -j "$jobs"

echo "== tests, SIMD forced to scalar"
SEXTANT_SIMD=scalar ctest --test-dir build --output-on-failure -j "$jobs"

if [ "${SEXTANT_TEST_SANITIZE:-1}" != "0" ]; then
  echo "== build with address,undefined sanitizers"
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSEXTANT_SANITIZE=address,undefined \
    -DSEXTANT_BUILD_BENCH=OFF >/dev/null
  cmake --build build-asan -j "$jobs"
  echo "== tests under address,undefined sanitizers"
  ASAN_OPTIONS=detect_leaks=1 ctest --test-dir build-asan --output-on-failure -j "$jobs"
fi
