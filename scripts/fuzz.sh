#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz, clang with address,undefined sanitizers) in build-fuzz/
# and runs each for a bounded time. Fails on any crash, leak, timeout, out-of-memory or sanitizer
# report; the input that caused it is kept in build-fuzz/fuzz-artifacts/<target>/ and the command
# to reproduce it is printed. docs/reliability.md ("Fuzzing") explains the targets and the long run.
#
#   bash scripts/fuzz.sh                      every target for 30 s (what scripts/test.sh runs)
#   bash scripts/fuzz.sh --seconds 3600 filter_fuzz chunker_fuzz    a long run of two targets
#   bash scripts/fuzz.sh --seeds              regenerate the seed corpora in tests/fuzz/corpus/
#   bash scripts/fuzz.sh --build-only
#
# Each target's working corpus (build-fuzz/fuzz-corpus/<target>/) starts from its seed corpus
# (tests/fuzz/corpus/<target>/) and is kept between runs, so repeated runs go deeper. The summary
# gives, per target, executions, executions per second, edge coverage ("cov") and features ("ft")
# at the end of the run, and peak RSS.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=30
build_only=0
seeds=0
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --build-only) build_only=1; shift ;;
    --seeds) seeds=1; shift ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
case "$seconds" in ''|*[!0-9]*) echo "fuzz.sh: --seconds needs a whole number, got '$seconds'" >&2; exit 2 ;; esac

cxx=""
for c in clang++-14 clang++; do
  if command -v "$c" >/dev/null; then cxx="$c"; break; fi
done
if [ -z "$cxx" ]; then
  echo "fuzz.sh: needs clang (libFuzzer): apt-get install clang-14 (scripts/install-deps.sh installs it)" >&2
  exit 1
fi

launcher=()
if command -v ccache >/dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
echo "== fuzz build ($cxx, address,undefined, libFuzzer) in build-fuzz/"
cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSEXTANT_FUZZ=ON \
  -DCMAKE_CXX_COMPILER="$cxx" "${launcher[@]}" >/dev/null
cmake --build build-fuzz -j "${SEXTANT_JOBS:-2}" --target fuzz_targets

if [ "$seeds" = 1 ]; then
  python3 tests/fuzz/make_corpus.py
  # Targets whose seeds are built with the engine's own code write them themselves.
  for t in index_load_fuzz service_fuzz; do
    rm -rf "tests/fuzz/corpus/$t" && mkdir -p "tests/fuzz/corpus/$t"
    SEXTANT_FUZZ_WRITE_SEEDS="tests/fuzz/corpus/$t" "build-fuzz/tests/fuzz/$t"
  done
  echo "fuzz.sh: seed corpora written to tests/fuzz/corpus/"
  exit 0
fi
[ "$build_only" = 1 ] && exit 0

if [ ${#targets[@]} -eq 0 ]; then
  for d in tests/fuzz/corpus/*/; do targets+=("$(basename "$d")"); done
fi

# Leaks fail a run; a slow input (10 s) and an allocation over 2 GiB are failures too.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
failed=()
summary=()
for t in "${targets[@]}"; do
  bin="build-fuzz/tests/fuzz/$t"
  [ -x "$bin" ] || { echo "fuzz.sh: no target $t (built: $(ls build-fuzz/tests/fuzz | grep _fuzz$ | tr '\n' ' '))" >&2; exit 2; }
  work="build-fuzz/fuzz-corpus/$t"
  artifacts="build-fuzz/fuzz-artifacts/$t"
  log="build-fuzz/fuzz-logs/$t.log"
  mkdir -p "$work" "$artifacts" "$(dirname "$log")"
  rm -f "$artifacts"/*  # the findings of this run only
  dict=()
  [ -f "tests/fuzz/$t.dict" ] && dict=(-dict="tests/fuzz/$t.dict")
  echo "== $t for ${seconds}s"
  set +e
  "$bin" "$work" "tests/fuzz/corpus/$t" "${dict[@]}" -max_total_time="$seconds" -timeout=10 \
    -rss_limit_mb=2048 -malloc_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
    -artifact_prefix="$artifacts/" >"$log" 2>&1
  rc=$?
  set -e
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
  rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
  rss=$(grep -o 'stat::peak_rss_mb: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
  cov=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$log" | tail -1 || true)
  line="$t: ${execs} execs (${rate}/s), ${cov:-cov: ?}, corpus $(ls "$work" | wc -l) files, peak RSS ${rss} MB"
  if [ $rc -ne 0 ]; then
    failed+=("$t")
    line="$line  FAILED (exit $rc)"
    grep -E 'ERROR: |SUMMARY: |fuzz invariant failed|runtime error' "$log" | head -5 >&2 || true
    for a in "$artifacts"/*; do
      [ -e "$a" ] && echo "   reproduce: $bin $a    (log: $log)" >&2
    done
  fi
  echo "   $line"
  summary+=("$line")
done

echo "== fuzz summary (${seconds}s per target)"
printf '   %s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz.sh: FAILED: ${failed[*]}" >&2
  exit 1
fi
