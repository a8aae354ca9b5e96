# syntax=docker/dockerfile:1
# leaderhook: Kubernetes leader-election sidecar.
#
#   docker build -t leaderhook .
#   docker run --rm leaderhook --version
#
# In a pod it takes leader-elector 0.4's arguments unchanged:
#   args: ["--election=example", "--http=0.0.0.0:4040"]
#
# NODE_VERSION follows the Node.js the project tests with (the `node` devDependency in package-lock.json;
# test/image/runtime-layout.test.ts checks they match). For reproducible builds pin the base by digest too:
#   --build-arg NODE_IMAGE=node:24.21.0-bookworm-slim@sha256:<digest>
# The base is Debian 12 (glibc 2.36) with the official Node.js build: the same C library and Node.js binary that
# `npm run bench` measures, so the allocator setting below (a glibc tunable, ignored by musl) is the measured one.
ARG NODE_VERSION=24.21.0
ARG NODE_IMAGE=node:${NODE_VERSION}-bookworm-slim

# ---- build: the type check and the bundle (scripts/build.ts), from the lockfile ----
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: nothing here needs an install script (the `node` devDependency's would fetch a second Node.js
# binary; esbuild finds its platform binary package without one).
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/build.ts ./scripts/build.ts
COPY scripts/build ./scripts/build
COPY src ./src
RUN npm run build

# ---- runtime: Node.js and the bundle (dependencies included); nothing else ----
FROM ${NODE_IMAGE} AS runtime
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="leaderhook" \
      org.opencontainers.image.description="Kubernetes leader-election sidecar: Lease election, leader lookup over HTTP, webhooks on every transition. Drop-in successor of leader-elector 0.4." \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.base.name="docker.io/library/${NODE_IMAGE}"
# The package managers are not needed at run time: less to patch, less to exploit.
RUN rm -rf /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/corepack \
      /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack \
      /usr/local/bin/yarn /usr/local/bin/yarnpkg /opt/yarn-*
# glibc keeps memory the process has freed (V8 frees its ~30 MB of parser zones after start-up) unless allocations from
# 32 KiB up are mapped on their own: idle private memory 44 -> 28 MB, measured by `npm run bench`, which reads this
# ENV and the ENTRYPOINT's flags and runs the bundle with them.
# NODE_COMPILE_CACHE: see the last RUN.
ENV NODE_ENV=production \
    GLIBC_TUNABLES=glibc.malloc.mmap_threshold=32768 \
    NODE_COMPILE_CACHE=/app/compile-cache
WORKDIR /app
# test/image/runtime-layout.test.ts reads these COPY lines and rebuilds the same file set without Docker:
# keep every runtime file in them.
COPY --from=build /src/dist ./dist
COPY package.json ./package.json
COPY bin ./bin
RUN mkdir /app/compile-cache && chown 1000:1000 /app/compile-cache
# A numeric non-root user (the base image's `node`), so the kubelet can enforce runAsNonRoot.
USER 1000:1000
# V8's compiled code of the bundle, made once here by the ENTRYPOINT itself (Node.js keys its compile cache by the
# Node.js options and the uid): every start reads it instead of compiling 2 MB of JavaScript. With a read-only root
# file system Node.js cannot add to it, and a pod running as another uid compiles as it would without it.
RUN node --max-semi-space-size=1 --no-concurrent-sparkplug --no-concurrent-recompilation /app/bin/leaderhook.js --version
EXPOSE 4040
# --no-concurrent-{sparkplug,recompilation}: V8 compiles on the main thread only (Maglev, TurboFan and on-stack
# replacement all use the optimizing compiler's background dispatcher, which --no-concurrent-recompilation disables).
# Node.js can deadlock in process.exit when a background compile job waits for a garbage collection that the exiting
# main thread never runs (nodejs/node#54918): a replica that had released its lock hung until the kubelet killed it
# (seen once in about 70 SIGTERMs; gdb showed that cycle). The GC keeps its threads: --single-threaded also removed the
# deadlock but raised the peak RSS with 50 targets from 112 to 152 MiB. V8 reads these once, at start, so they belong
# here; they are also two of the few V8 flags that leave Node.js's precompiled built-in modules usable (most others,
# --optimize-for-size among them, make every start compile those from source: about 70 ms). The sidecar sets
# --optimize-for-size itself once loaded (src/runtime/v8-flags.ts), and --max-semi-space-size=1 is what that flag
# implies at start and cannot change later: a young generation of 1 MiB. Without it each replica used 2-3 ms more CPU
# in a handover on kube-apiserver (p50 of 30 rounds, runs alternating) and idle RSS was the same.
ENTRYPOINT ["node", "--max-semi-space-size=1", "--no-concurrent-sparkplug", "--no-concurrent-recompilation", "/app/bin/leaderhook.js"]
