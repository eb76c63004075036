#!/usr/bin/env bash
# Sets up, lints and builds everything, runs the whole test suite, then runs
# it again under AddressSanitizer and UndefinedBehaviorSanitizer. Exits
# non-zero on any lint error, test failure or sanitizer report. That second
# build (clang) also runs each libFuzzer target (tests/fuzz/) for a bounded
# time.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

echo "== lint: protos (buf, Google API style)"
(cd protos && ../.cache/tools/node_modules/.bin/buf lint)

echo "== lint: clang-format"
git ls-files '*.cc' '*.h' | xargs clang-format --dry-run -Werror

jobs=$(nproc)
echo "== build and test (RelWithDebInfo)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C build
(cd build && ctest --output-on-failure -j "$jobs" --timeout 300)

echo "== build and test under ASan + UBSan (clang), then the fuzzers"
# One clang build for both: the tests and the libFuzzer targets (tests/fuzz/,
# each run for a bounded time as a CTest test). The benchmarks' smoke runs
# belong to the first stage only (CI time).
CC=clang CXX=clang++ cmake -S . -B build-san -G Ninja -DCMAKE_BUILD_TYPE=Debug \
  -DVLA_FUZZ=ON -DVLA_BUILD_BENCH=OFF >/dev/null
ninja -C build-san
export ASAN_OPTIONS=halt_on_error=1:detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export LSAN_OPTIONS=suppressions=$PWD/tests/lsan.supp
(cd build-san && ctest --output-on-failure -j "$jobs" --timeout 600)
echo "== all checks passed"
