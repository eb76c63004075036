# syntax=docker/dockerfile:1
# The VLA container image: `vlad` (all three services; `--services` picks which) and the clients
# `vlactl` and `vla-governance-bot`, on Debian 12. See k8s/README.md for how it is deployed.
#
#   docker build -t vla:dev .
#   docker run --rm -p 50051:50051 -v vla-data:/var/lib/vla vla:dev
#
# tests/deploy/check_image_packages.py (CTest `deploy_image_packages`) keeps the package lists
# below honest: RUNTIME_PACKAGES must be exactly the Debian packages owning the shared libraries
# that `ldd` reports for the shipped binaries (plus the data packages it names), and
# BUILD_PACKAGES must cover the build packages of scripts/setup.sh.

# ---- build ----------------------------------------------------------------------------------
FROM debian:12 AS build
# GoogleTest is here only because CMake configures tests/ unconditionally; no test is built or run.
ARG BUILD_PACKAGES="build-essential cmake ninja-build pkg-config \
  protobuf-compiler protobuf-compiler-grpc libgrpc++-dev libprotobuf-dev \
  libabsl-dev libsqlitecpp-dev libsqlite3-dev libssl-dev libpq-dev \
  libyaml-cpp-dev libcli11-dev nlohmann-json3-dev libcurl4-openssl-dev libcpp-httplib-dev \
  prometheus-cpp-dev libgoogle-perftools-dev \
  libgtest-dev libgmock-dev \
  nodejs npm ca-certificates"
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $BUILD_PACKAGES \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# The dashboard's build packages (esbuild, ECharts; web/package-lock.json) from the npm registry:
# vlad embeds the bundle, so the runtime stage needs no node.
RUN mkdir -p .cache/tools/web && cp web/package.json web/package-lock.json .cache/tools/web/ \
 && npm ci --omit=dev --no-audit --no-fund --prefix .cache/tools/web
# Builds only the shipped binaries (no tests, no benchmarks).
RUN cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DVLA_BUILD_BENCH=OFF \
 && ninja -C build vlad vlactl vla-governance-bot \
 && mkdir -p /out/bin /out/data \
 && install -m 0755 -s build/bin/vlad build/bin/vlactl build/bin/vla-governance-bot /out/bin/

# ---- runtime --------------------------------------------------------------------------------
FROM debian:12-slim AS runtime
# Shared libraries of the binaries (by `ldd`), plus tzdata: absl::LoadTimeZone reads
# /usr/share/zoneinfo for the time zones of KVI windows.
ARG RUNTIME_PACKAGES="libabsl20220623 libc-ares2 libc6 libgcc-s1 libgrpc++1.51 libgrpc29 \
  libprotobuf32 libre2-9 libsqlite3-0 libpq5 libssl3 libstdc++6 zlib1g \
  libcivetweb1 libprometheus-cpp-core1.0 libprometheus-cpp-pull1.0 libcpp-httplib0.11 \
  libyaml-cpp0.7 libtcmalloc-minimal4 \
  libcurl4 libbrotli1 libcom-err2 libffi8 libgmp10 libgnutls30 libgssapi-krb5-2 libhogweed6 \
  libidn2-0 libk5crypto3 libkeyutils1 libkrb5-3 libkrb5support0 libldap-2.5-0 libnettle8 \
  libnghttp2-14 libp11-kit0 libpsl5 librtmp1 libsasl2-2 libssh2-1 libtasn1-6 libunistring2 \
  libzstd1 \
  tzdata"
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $RUNTIME_PACKAGES \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/bin/ /usr/local/bin/
# A numeric non-root user (no /etc/passwd entry needed; Kubernetes' runAsNonRoot checks the number).
COPY --from=build --chown=65532:65532 /out/data/ /var/lib/vla/
USER 65532:65532
WORKDIR /var/lib/vla
VOLUME ["/var/lib/vla"]
# 50051: gRPC (all hosted services, grpc.health.v1, reflection); 50052: plaintext gRPC health only
# (for the kubelet's probes when 50051 speaks TLS); 9090: Prometheus metrics (--metrics_listen);
# 8080: HTTP/JSON, webhooks and the dashboard at / (--http_listen=0.0.0.0:8080, off unless given).
EXPOSE 50051 50052 8080 9090
# No HEALTHCHECK: the image has no probe tool, and the instruction needs one. Kubernetes probes
# vlad with its native gRPC probes against grpc.health.v1 (k8s/base/statefulset.yaml).
# Exec form: no shell is involved at run time. Arguments after the image name replace CMD.
ENTRYPOINT ["/usr/local/bin/vlad"]
CMD ["--listen=0.0.0.0:50051", "--data_dir=/var/lib/vla"]
