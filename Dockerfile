# syntax=docker/dockerfile:1
# Build: dependencies first (cached until Cargo.toml/Cargo.lock change), then the crate.
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
# apalis-postgres checks its SQL against the data it ships, not a live database.
ENV SQLX_OFFLINE=true
COPY Cargo.toml Cargo.lock ./
# sqlx-core patched for TCP_NODELAY (vendor/README.md), a dependency like any other.
COPY vendor ./vendor
RUN mkdir src && echo 'fn main() {}' > src/main.rs && touch src/lib.rs \
 && cargo build --release --locked \
 && rm -rf src target/release/planner target/release/deps/planner-* target/release/deps/libplanner-* target/release/.fingerprint/planner-*
COPY src ./src
COPY migrations ./migrations
COPY data ./data
COPY web ./web
# The profiles are built into the binary too (src/config/vars.rs).
COPY config ./config
RUN cargo build --release --locked

# Run: a small Debian image, no compiler, no curl; the binary is its own health check.
FROM debian:bookworm-slim AS runtime-base
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin planner \
 && mkdir -p /app/results \
 && chown -R planner /app
COPY config /app/config
WORKDIR /app
USER planner
ENV APP_ENV=prod \
    RESULTS_DIR=/app/results \
    API_ADDR=0.0.0.0:8080 \
    WORKER_ADDR=0.0.0.0:9091
VOLUME ["/app/results"]
EXPOSE 8080 9091
HEALTHCHECK --interval=10s --timeout=4s --start-period=30s --retries=3 CMD ["planner", "healthcheck"]
ENTRYPOINT ["planner"]
CMD ["api"]

# The runtime image around a binary built outside (scripts/compose-smoke.sh: no Rust image can
# be pulled there). Its context holds `planner` and `config/` only:
#   podman build --target prebuilt -f Dockerfile <dir with planner and config/>
FROM runtime-base AS prebuilt
COPY planner /usr/local/bin/planner

# The default target: the binary built in the first stage.
FROM runtime-base AS runtime
COPY --from=build /src/target/release/planner /usr/local/bin/planner
