# syntax=docker/dockerfile:1
#
# artifactapi image: a static Go binary on distroless, running as uid 65532.
#
#   docker build --build-arg VERSION=$(git describe --tags --always --dirty) -t artifactapi:latest .
#   docker run --rm -p 8000:8000 artifactapi:latest          # embedded mode: SQLite + filesystem in /data
#   docker run --rm artifactapi:latest check-config          # validate the bundled /app/remotes.yaml
#
# See docs/deploy.md for every environment variable.

ARG GO_VERSION=1.26

# ---------------------------------------------------------------- build stage
# Runs on the build host's platform and cross-compiles (CGO is off), so
# `docker buildx build --platform linux/amd64,linux/arm64` needs no emulation.
FROM --platform=$BUILDPLATFORM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOFLAGS=-mod=readonly

# Dependencies first, so source edits do not invalidate this layer.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download

COPY . .
ARG TARGETOS
ARG TARGETARCH
ARG VERSION=dev
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    GOOS=${TARGETOS} GOARCH=${TARGETARCH} \
    go build -trimpath -ldflags "-s -w -X artifactapi/app.Version=${VERSION}" -o /out/artifactapi . \
 && mkdir -p /out/data

# ---------------------------------------------------------------- final stage
# distroless/static: CA certificates, tzdata, /etc/passwd with nonroot (65532);
# no shell, so there is no HEALTHCHECK here — orchestrators probe /health and /ready.
FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=dev
LABEL org.opencontainers.image.title="artifactapi" \
      org.opencontainers.image.description="Caching artifact proxy and Docker registry mirror" \
      org.opencontainers.image.version="${VERSION}"

WORKDIR /app
COPY --from=build /out/artifactapi /app/artifactapi
COPY remotes.yaml /app/remotes.yaml
# /data must belong to the runtime user: a fresh named volume copies this ownership.
COPY --from=build --chown=65532:65532 /out/data /data

ENV REMOTES_CONFIG=/app/remotes.yaml \
    DATA_DIR=/data
VOLUME ["/data"]

# Numeric uid:gid so Kubernetes `runAsNonRoot: true` can verify it (a user name cannot be checked).
USER 65532:65532
EXPOSE 8000
ENTRYPOINT ["/app/artifactapi"]
CMD ["serve"]
