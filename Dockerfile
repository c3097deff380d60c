# syntax=docker/dockerfile:1
#
# unigate container image.
#
#   docker build --build-arg VERSION=$(git describe --tags --always --dirty) -t unigate .
#   docker run -p 8080:8080 -p 9464:9464 \
#     -v ./config.yaml:/etc/unigate/config.yaml:ro -v ./secrets:/run/secrets:ro unigate
#
# In a container, set `listen: "0.0.0.0:8080"` and `metrics.listen: "0.0.0.0:9464"`
# (or UNIGATE_LISTEN / UNIGATE_METRICS_LISTEN): the defaults bind to loopback.

ARG GO_VERSION=1.26

# ---- build ------------------------------------------------------------------
FROM golang:${GO_VERSION} AS build
WORKDIR /src

# Module downloads get their own layer: it is rebuilt only when go.mod or
# go.sum change, not on every source edit.
COPY go.mod go.sum ./
RUN go mod download && go mod verify

COPY . .
ARG VERSION=dev
# Static binary (modernc.org/sqlite needs no cgo), reproducible paths, no
# debug info; the compiler cache survives between builds under BuildKit.
RUN --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=linux go build -trimpath \
      -ldflags "-s -w -X main.version=${VERSION}" \
      -o /out/unigate ./cmd/unigate

# ---- run ----------------------------------------------------------------------
# distroless/static: CA certificates (SSO over https), tzdata, /tmp, a nonroot
# user (65532), and no shell or package manager.
FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=dev
LABEL org.opencontainers.image.title="unigate" \
      org.opencontainers.image.description="Authenticating reverse-proxy gateway for the Dedibox and Scaleway consoles" \
      org.opencontainers.image.version="${VERSION}"

COPY --from=build /out/unigate /unigate

USER nonroot:nonroot
WORKDIR /home/nonroot
# 8080: the gateway (account and console hosts); 9464: /metrics, /healthz, /readyz.
EXPOSE 8080 9464
ENTRYPOINT ["/unigate"]
CMD ["serve", "--config", "/etc/unigate/config.yaml"]
