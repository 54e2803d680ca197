# s3logsbeat container image: a multi-stage build, the binary alone on a distroless base, running as a
# non-root user. Build:   docker build -t s3logsbeat .
# Run:     docker run --rm -v $PWD/s3logsbeat.yml:/etc/s3logsbeat/s3logsbeat.yml:ro s3logsbeat
# The container runs as uid 65532: a mounted config must be readable by it (chmod 0644; secrets as
# ${ES_PASSWORD} in it, the value from `docker run -e ES_PASSWORD` or an --env-file).
# AWS credentials come from the usual chain: the task or pod role (ECS, EKS IRSA / Pod Identity), or
# AWS_* environment variables.

FROM rust:1-slim-bookworm AS build
WORKDIR /src
# cmake, clang and perl build aws-lc-rs (the TLS crypto); nothing of them reaches the runtime image.
RUN apt-get update \
 && apt-get install -y --no-install-recommends cmake clang perl make \
 && rm -rf /var/lib/apt/lists/*
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY benches ./benches
RUN cargo build --locked --profile dist --bin s3logsbeat \
 && cp target/dist/s3logsbeat /s3logsbeat

# glibc, libgcc and CA certificates, no shell; uid 65532.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /s3logsbeat /usr/bin/s3logsbeat
# 0644 whatever the checkout's umask made it: uid 65532 reads it (--chmod needs BuildKit, Docker 23's default).
COPY --chmod=0644 s3logsbeat.yml /etc/s3logsbeat/s3logsbeat.yml
USER nonroot:nonroot
# The monitoring endpoint, when `http.enabled: true` and `http.host: 0.0.0.0`.
EXPOSE 5066
ENTRYPOINT ["/usr/bin/s3logsbeat", "--path.config", "/etc/s3logsbeat", "--path.data", "/tmp/s3logsbeat"]
CMD ["run", "-e"]
