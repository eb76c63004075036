#!/usr/bin/env bash
# Sets up, builds and runs the server with every service in one process and
# its SQLite files under ./data, the dashboard and HTTP/JSON API on
# 127.0.0.1:8080. Extra arguments go to vlad (see --help; a later flag wins).
set -euo pipefail
cd "$(dirname "$0")/.."
VLA_SKIP_BUF=1 scripts/setup.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C build vlad vlactl
exec build/bin/vlad --listen=127.0.0.1:50051 --http_listen=127.0.0.1:8080 --data_dir=data "$@"
