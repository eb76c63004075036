#!/usr/bin/env bash
# Installs what building and testing need on Debian 12, and nothing that is
# already there: Debian packages via apt-get, buf (the proto linter) and the
# dashboard's packages (web/package-lock.json) via npm into .cache/tools.
# Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  build-essential cmake ninja-build pkg-config git
  protobuf-compiler protobuf-compiler-grpc libgrpc++-dev libprotobuf-dev
  libabsl-dev libsqlitecpp-dev libsqlite3-dev libssl-dev
  libpq-dev postgresql-15
  libgtest-dev libgmock-dev libbenchmark-dev libcurl4-openssl-dev
  clang-format tzdata ca-certificates
  nlohmann-json3-dev
  libcpp-httplib-dev
  prometheus-cpp-dev
  libyaml-cpp-dev libcli11-dev
  libgoogle-perftools-dev
  clang libclang-rt-14-dev
  chromium fonts-dejavu-core
)
BUF_VERSION=1.75.0

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$p")
done
if ! command -v npm >/dev/null 2>&1; then missing+=(nodejs npm); fi
# kubectl renders k8s/ in the tests: Debian's kubectl when the machine has none of its own.
if ! command -v kubectl >/dev/null 2>&1; then missing+=(kubernetes-client); fi

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi

if [ "${VLA_SKIP_BUF:-0}" != 1 ] && ! .cache/tools/node_modules/.bin/buf --version 2>/dev/null |
  grep -qx "$BUF_VERSION"; then
  echo "setup: installing buf $BUF_VERSION (npm)"
  mkdir -p .cache/tools
  npm install --silent --no-audit --no-fund --prefix .cache/tools \
    "@bufbuild/buf@$BUF_VERSION" >/dev/null
fi

# The offline Kubernetes schema validator of tests/deploy (pinned by its package-lock.json).
DEPLOY_TOOLS=.cache/tools/deploy
if ! cmp -s tests/deploy/package-lock.json "$DEPLOY_TOOLS/installed-lock.json"; then
  echo "setup: installing the manifest validator (npm, tests/deploy/package.json)"
  rm -rf "$DEPLOY_TOOLS" && mkdir -p "$DEPLOY_TOOLS"
  cp tests/deploy/package.json tests/deploy/package-lock.json "$DEPLOY_TOOLS/"
  npm ci --silent --no-audit --no-fund --prefix "$DEPLOY_TOOLS" >/dev/null
  cp tests/deploy/package-lock.json "$DEPLOY_TOOLS/installed-lock.json"
fi

# The dashboard (web/): esbuild and ECharts to build it into vlad, puppeteer-core to drive
# Debian's chromium in its test (pinned by web/package-lock.json; no browser download).
WEB_TOOLS=.cache/tools/web
if ! cmp -s web/package-lock.json "$WEB_TOOLS/installed-lock.json"; then
  echo "setup: installing the dashboard's build and test packages (npm, web/package.json)"
  rm -rf "$WEB_TOOLS" && mkdir -p "$WEB_TOOLS"
  cp web/package.json web/package-lock.json "$WEB_TOOLS/"
  PUPPETEER_SKIP_DOWNLOAD=1 npm ci --silent --no-audit --no-fund --prefix "$WEB_TOOLS" >/dev/null
  cp web/package-lock.json "$WEB_TOOLS/installed-lock.json"
fi
