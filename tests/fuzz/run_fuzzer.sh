#!/usr/bin/env bash
# Runs a libFuzzer binary for a bounded time from a seed corpus, without
# writing to it: new inputs go to a temporary folder, crashes to the artifact
# prefix. Fails on any crash, timeout, leak or sanitizer report.
#   run_fuzzer.sh FUZZER SEED_CORPUS_DIR SECONDS ARTIFACT_PREFIX [libFuzzer flags...]
set -euo pipefail
fuzzer=$1 seeds=$2 seconds=$3 artifacts=$4
shift 4
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
lsan_supp="$(dirname "$0")/../lsan.supp"
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$lsan_supp}
# The first folder receives new inputs; the seeds are only read.
exec "$fuzzer" -max_total_time="$seconds" -timeout=5 -rss_limit_mb=2048 \
  -print_final_stats=1 -artifact_prefix="$artifacts" "$@" "$work" "$seeds"
