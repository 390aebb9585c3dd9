# syntax=docker/dockerfile:1
# Build: a static binary with no cgo.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/saathi ./cmd/saathi \
 && mkdir -p /out/spool

# Run: distroless static, as a non-root user; CA certificates for Twilio,
# time zones are embedded in the binary.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/saathi /usr/local/bin/saathi
# Inbound webhooks wait here while the database is down: mount persistent
# storage (one directory per web replica).
COPY --from=build --chown=65532:65532 /out/spool /var/lib/saathi/spool
USER nonroot:nonroot
EXPOSE 8080
ENV SAATHI_ADDR=:8080 SAATHI_SPOOL_DIR=/var/lib/saathi/spool
VOLUME ["/var/lib/saathi/spool"]
ENTRYPOINT ["/usr/local/bin/saathi"]
CMD ["serve"]
