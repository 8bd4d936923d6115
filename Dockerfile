# syntax=docker/dockerfile:1
# Build a static binary, then ship it alone on distroless: no shell, no
# package manager, non-root.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/lockbot ./cmd/lockbot \
 && mkdir -p /out/state

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/lockbot /lockbot
# 65532 is distroless's nonroot user.
COPY --from=build --chown=65532:65532 /out/state /var/lib/lockbot
ENV LOCKBOT_STATE_DIR=/var/lib/lockbot \
    LOG_FORMAT=json \
    LISTEN_ADDR=:8080
VOLUME ["/var/lib/lockbot"]
EXPOSE 8080
USER nonroot:nonroot
ENTRYPOINT ["/lockbot"]
CMD ["serve"]
