# tailerbot: a multi-stage build. The first stage compiles the dependencies alone (a
# layer that survives source changes), then the bot; the runtime stage is distroless:
# no shell, the non-root user 65532 ("nonroot"), CA certificates for Slack's and Tailer's TLS.
# No configuration is built in (only the example, beside where yours goes): mount yours at
# /etc/tailerbot/tailerbot.toml or give it whole in TAILERBOT_CONFIG_TOML, so that a first
# deploy never runs the example's jobs.

FROM rust:1.95-slim-bookworm AS build
# jemalloc, the binary's allocator, is built from its C sources with make.
RUN apt-get update \
    && apt-get install -y --no-install-recommends make=4.3-4.1 \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
# The other members of the workspace: the offline kit (the simulator, the Slack
# stand-in, the clock they share) and the measuring tools.
COPY crates ./crates
COPY tools ./tools
# Dependencies only: a stub bot with the real manifest.
RUN mkdir src && echo 'fn main() {}' > src/main.rs && touch src/lib.rs \
    && cargo build --release --locked --package tailerbot \
    && rm -rf src target/release/deps/tailerbot* target/release/tailerbot*
COPY src ./src
COPY migrations ./migrations
COPY manifest ./manifest
COPY tailerbot.example.toml ./
RUN cargo build --release --locked --package tailerbot \
    && mkdir -p /out/var/lib/tailerbot /out/etc/tailerbot \
    && cp target/release/tailerbot /out/tailerbot \
    && cp tailerbot.example.toml /out/etc/tailerbot/tailerbot.example.toml

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/tailerbot /usr/local/bin/tailerbot
COPY --from=build /out/etc/tailerbot /etc/tailerbot
COPY --from=build --chown=65532:65532 /out/var/lib/tailerbot /var/lib/tailerbot
ENV PORT=8080 \
    TAILERBOT_CONFIG=/etc/tailerbot/tailerbot.toml \
    DATABASE_URL=sqlite:///var/lib/tailerbot/tailerbot.db \
    LOG_FORMAT=json
VOLUME ["/var/lib/tailerbot"]
EXPOSE 8080
USER 65532:65532
HEALTHCHECK --interval=30s --timeout=5s --start-period=5s --retries=3 CMD ["/usr/local/bin/tailerbot", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/tailerbot"]
CMD ["serve"]
