#!/usr/bin/env bash
# shellcheck disable=SC2086,SC2046 # package lists are split on purpose, to print them on one line
# Checks the package lists of the Dockerfile against reality:
#  1. RUNTIME_PACKAGES (runtime stage) must be exactly the Debian packages that own the shared
#     libraries `ldd` reports for the given binaries, plus DATA_PACKAGES below: a missing package
#     means the image cannot start, an extra one is dead weight.
#  2. BUILD_PACKAGES (build stage) must include every package of scripts/setup.sh except those in
#     NOT_FOR_THE_IMAGE_BUILD below.
#  3. Every given binary must be one the Dockerfile builds (so a new client is not forgotten).
#
# Usage: check_image_packages.sh DOCKERFILE SETUP_SH BINARY...
#        check_image_packages.sh --self-test DOCKERFILE SETUP_SH BINARY...
#          (checks that drift in either direction is caught, on altered copies of the Dockerfile)
set -euo pipefail

# Packages the runtime stage needs that no binary links: name -> why.
declare -A DATA_PACKAGES=(
  [tzdata]="absl::LoadTimeZone reads /usr/share/zoneinfo (time zones of KVI windows)"
)
# Packages of scripts/setup.sh the image build does not need: name -> why.
declare -A NOT_FOR_THE_IMAGE_BUILD=(
  [clang]="fuzzing only (tests/fuzz/)"
  [libclang-rt-14-dev]="fuzzing only (libFuzzer runtime)"
  [clang-format]="lint only"
  [libbenchmark-dev]="benchmarks are off in the image (-DVLA_BUILD_BENCH=OFF)"
  [git]="the build context is a plain copy of the sources"
  [tzdata]="tests only; the runtime stage installs it"
  [chromium]="the dashboard's browser test only (web/test/)"
  [fonts-dejavu-core]="the browser test's screenshots only"
  [postgresql-15]="tests only: the throwaway PostgreSQL server of the conformance suite"
)

# The words of `ARG NAME="..."` in a Dockerfile (continuation lines joined).
dockerfile_arg() {
  sed -e ':a' -e '/\\$/N; s/\\\n//; ta' "$1" |
    sed -n "s/^ARG $2=\"\\(.*\\)\"\$/\\1/p" | tr -s ' \t' '\n' | sed '/^$/d' | sort -u
}

# The words of the PACKAGES=( ... ) array in setup.sh.
setup_packages() {
  sed -n '/^PACKAGES=(/,/^)/p' "$1" | sed -e 's/^PACKAGES=(//' -e 's/)$//' -e 's/#.*//' |
    tr -s ' \t' '\n' | sed '/^$/d' | sort -u
}

# The Debian packages owning the shared libraries the binaries link, one dpkg query for all (each
# query reads the whole package database). A library path is tried as is, as its /usr-merged twin
# and resolved.
linked_packages() {
  local bin lib libs=() candidates=() owners found p alt
  for bin in "$@"; do
    if ldd "$bin" | grep -q 'not found'; then
      echo "check_image_packages: $bin has unresolved libraries:" >&2
      ldd "$bin" | grep 'not found' >&2
      return 1
    fi
  done
  mapfile -t libs < <(for bin in "$@"; do
    ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}'
  done | sort -u)
  for lib in "${libs[@]}"; do
    case "$lib" in /usr/*) alt=${lib#/usr} ;; *) alt=/usr$lib ;; esac
    candidates+=("$lib" "$alt" "$(readlink -f "$lib")")
  done
  owners=$(dpkg -S "${candidates[@]}" 2>/dev/null || true)
  for lib in "${libs[@]}"; do
    case "$lib" in /usr/*) alt=${lib#/usr} ;; *) alt=/usr$lib ;; esac
    found=""
    for p in "$lib" "$alt" "$(readlink -f "$lib")"; do
      found=$(awk -F': ' -v p="$p" '$2 == p {print $1; exit}' <<<"$owners")
      [ -n "$found" ] && break
    done
    if [ -z "$found" ]; then
      echo "check_image_packages: no Debian package owns $lib" >&2
      return 1
    fi
    echo "$found" | tr ',' '\n' | sed -e 's/^ *//' -e 's/:.*//'
  done | sort -u
}

check() {
  local dockerfile=$1 setup=$2
  shift 2
  local ok=1 expected actual missing extra built bin
  expected=$( (echo "$LINKED" && printf '%s\n' "${!DATA_PACKAGES[@]}") | sed '/^$/d' | sort -u)
  actual=$(dockerfile_arg "$dockerfile" RUNTIME_PACKAGES)
  if [ -z "$actual" ]; then
    echo "FAIL: no ARG RUNTIME_PACKAGES=\"...\" in $dockerfile"
    return 1
  fi
  missing=$(comm -23 <(echo "$expected") <(echo "$actual"))
  extra=$(comm -13 <(echo "$expected") <(echo "$actual"))
  if [ -n "$missing" ]; then
    ok=0
    echo "FAIL: RUNTIME_PACKAGES in $dockerfile lacks packages the binaries link:" $missing
  fi
  if [ -n "$extra" ]; then
    ok=0
    echo "FAIL: RUNTIME_PACKAGES in $dockerfile has packages no binary links" \
      "(nor listed in DATA_PACKAGES of $0):" $extra
  fi

  local build_pkgs needed
  build_pkgs=$(dockerfile_arg "$dockerfile" BUILD_PACKAGES)
  needed=$(setup_packages "$setup" | while read -r p; do
    [ -n "${NOT_FOR_THE_IMAGE_BUILD[$p]+x}" ] || echo "$p"
  done)
  if [ -z "$needed" ]; then
    echo "FAIL: no PACKAGES=( ... ) in $setup"
    return 1
  fi
  missing=$(comm -23 <(echo "$needed" | sort -u) <(echo "$build_pkgs"))
  if [ -n "$missing" ]; then
    ok=0
    echo "FAIL: BUILD_PACKAGES in $dockerfile lacks packages of $setup:" $missing \
      "(add them, or list them in NOT_FOR_THE_IMAGE_BUILD of $0 with the reason)"
  fi

  built=$(sed -n 's/.*ninja -C build \([^&\\]*\).*/\1/p' "$dockerfile" | tr -s ' ' '\n')
  for bin in "$@"; do
    if ! grep -qx "$(basename "$bin")" <<<"$built"; then
      ok=0
      echo "FAIL: $dockerfile does not build $(basename "$bin") (its ninja line names:" $built")"
    fi
  done
  for bin in $built; do
    if ! printf '%s\n' "$@" | grep -q "/$bin\$"; then
      echo "NOTE: $dockerfile builds $bin, which this build tree does not have; its libraries" \
        "are not checked here"
    fi
  done

  if ((ok)); then
    echo "OK: runtime packages ($(echo $actual | wc -w)) match the libraries of:" \
      $(printf '%s\n' "$@" | xargs -n1 basename)
  fi
  ((ok))
}

self_test() {
  local dockerfile=$1 setup=$2
  shift 2
  local tmp
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' RETURN
  check "$dockerfile" "$setup" "$@" >/dev/null || { echo "FAIL: the real files do not pass"; return 1; }
  # A runtime package removed, one added, a build package removed, a setup.sh package added.
  sed 's/ libssl3 / /' "$dockerfile" >"$tmp/missing"
  sed 's/ zlib1g / zlib1g libpng16-16 /' "$dockerfile" >"$tmp/extra"
  sed 's/ libabsl-dev / /' "$dockerfile" >"$tmp/build"
  sed 's/^PACKAGES=(/PACKAGES=(\n  libfoo-dev/' "$setup" >"$tmp/setup.sh"
  local case_file want
  for case_file in "missing:lacks packages the binaries link: libssl3" \
    "extra:has packages no binary links.*libpng16-16" "build:BUILD_PACKAGES.*lacks.*libabsl-dev"; do
    want=${case_file#*:}
    if out=$(check "$tmp/${case_file%%:*}" "$setup" "$@"); then
      echo "FAIL: ${case_file%%:*}: drift not detected"
      return 1
    fi
    grep -q "$want" <<<"$out" || { echo "FAIL: ${case_file%%:*}: no '$want' in: $out"; return 1; }
  done
  if out=$(check "$dockerfile" "$tmp/setup.sh" "$@") || ! grep -q 'libfoo-dev' <<<"$out"; then
    echo "FAIL: a new setup.sh package missing from BUILD_PACKAGES was not detected: $out"
    return 1
  fi
  echo "OK: drift in either direction is detected"
}

mode=check
if [ "${1:-}" = --self-test ]; then
  mode=self_test
  shift
fi
LINKED=$(linked_packages "${@:3}")
$mode "$@"
