# Saathi — the two commands a newcomer needs are `make run` and `make test`.
SHELL := /bin/sh
GO ?= go
DATA := .data
SQLC := $(GO) run github.com/sqlc-dev/sqlc/cmd/sqlc@v1.31.1
# Go test flags; CI adds -race.
TESTFLAGS ?= -count=1

.PHONY: run test build generate sqlc-check lint fuzz bench clean-data

## run: the service with a local PostgreSQL, the no-network dev provider and demo staff
run: build
	@mkdir -p $(DATA)
	@test -s $(DATA)/dev.key || (head -c 32 /dev/urandom | base64 > $(DATA)/dev.key && chmod 600 $(DATA)/dev.key && echo "generated a dev encryption key in $(DATA)/dev.key")
	@url=$$(sh db/devpg.sh saathi) && \
	export DATABASE_URL="$$url" SAATHI_ENCRYPTION_KEY="$$(cat $(DATA)/dev.key)" SAATHI_PROVIDER=dev \
	       SAATHI_ADDR="$${SAATHI_ADDR:-127.0.0.1:8080}" SAATHI_PUBLIC_URL="$${SAATHI_PUBLIC_URL:-http://localhost:8080}" \
	       SAATHI_LOG_FORMAT="$${SAATHI_LOG_FORMAT:-text}" SAATHI_SPOOL_DIR="$${SAATHI_SPOOL_DIR:-$(DATA)/spool}" && \
	$(DATA)/saathi migrate && \
	$(DATA)/saathi seed-demo && \
	exec $(DATA)/saathi serve

## test: the whole suite against a real PostgreSQL (started like `make run` does if needed)
test:
	@url=$$(sh db/devpg.sh postgres) && \
	SAATHI_TEST_DATABASE_URL="$$url" $(GO) test $(TESTFLAGS) ./...

build:
	@mkdir -p $(DATA)
	$(GO) build -o $(DATA)/saathi ./cmd/saathi

## generate: regenerate sqlc code after editing db/queries or db/migrations
generate:
	cd db && $(SQLC) generate

## sqlc-check: fail when the generated code is out of date
sqlc-check:
	cd db && $(SQLC) diff

lint:
	@test -z "$$(gofmt -l .)" || (echo "gofmt needed:"; gofmt -l .; exit 1)
	$(GO) vet ./...

## fuzz: the reply parser, for as long as you like (FUZZTIME=10m)
fuzz:
	$(GO) test ./jobs/reply -run '^$$' -fuzz FuzzParse -fuzztime $${FUZZTIME:-60s}

clean-data:
	rm -rf $(DATA)
