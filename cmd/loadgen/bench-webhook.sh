#!/bin/sh
# Inbound webhook benchmark (texts, and the voice answer and key-press
# webhooks of check-in calls), side by side with PostgreSQL's own
# single-row insert rate on the same server:
#   sh cmd/loadgen/bench-webhook.sh [seconds] [concurrency]   (ROLE=web: no worker)
# Saathi (web and worker in one process) runs against a fresh database with
# the twilio provider pointed at loadgen's fake Twilio; loadgen, a second
# process, posts signed webhooks over loopback; then pgbench runs a
# one-insert script with the same number of clients for the same time.
set -eu
cd "$(dirname "$0")/../.."
secs=${1:-20}
conc=${2:-16}
mkdir -p .data
go build -o .data/saathi ./cmd/saathi
go build -o .data/loadgen ./cmd/loadgen

server=$(sh db/devpg.sh postgres)
name="saathi_bench_$$"
psql "$server" -qc "CREATE DATABASE $name"
url=$(printf '%s\n' "$server" | sed -E "s#^(postgres(ql)?://[^/?]*)/?[^?]*#\1/$name#")
cleanup() {
	[ -n "${sv:-}" ] && kill "$sv" 2>/dev/null || true
	psql "$server" -qc "DROP DATABASE IF EXISTS $name WITH (FORCE)" || true
}
trap cleanup EXIT

export DATABASE_URL="$url" SAATHI_PROVIDER=twilio SAATHI_LOG_LEVEL=warn SAATHI_LOG_FORMAT=text
export SAATHI_ENCRYPTION_KEY="$(head -c 32 /dev/urandom | base64)"
export TWILIO_ACCOUNT_SID=AC00000000000000000000000000000001 TWILIO_AUTH_TOKEN=fa4e0000000000000000000000000001
export TWILIO_FROM_NUMBER=+15005550006 TWILIO_API_BASE_URL=http://127.0.0.1:18099
export SAATHI_ADDR=127.0.0.1:18080 SAATHI_PUBLIC_URL=http://127.0.0.1:18080 SAATHI_SPOOL_DIR=.data/bench-spool

.data/saathi migrate
admin=$(.data/saathi staff add --name Bench --role admin | sed -n 's/^token: //p')
cw=$(.data/saathi staff add --name Caseworker --role caseworker --phone +919000000001 | sed -n 's/.*(id \([0-9a-f-]*\)).*/\1/p')

.data/loadgen -target http://127.0.0.1:18080 -admin-token "$admin" -caseworker-id "$cw" \
	-duration "${secs}s" -concurrency "$conc" -alerts "$([ "${ROLE:-all}" = web ] && echo 0 || echo 100)" \
	$([ "${ROLE:-all}" = web ] || echo -voice) &
lg=$!
sleep 1
.data/saathi serve --role="${ROLE:-all}" &
sv=$!
wait "$lg"
kill "$sv"
wait "$sv" 2>/dev/null || true
sv=

psql "$url" -qc "CREATE TABLE bench_insert (id bigserial PRIMARY KEY, payload text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())"
script=$(mktemp)
echo "INSERT INTO bench_insert (payload) VALUES ('x');" > "$script"
echo "pgbench, one-row insert, $conc clients, ${secs}s:"
pgbench -n -c "$conc" -j 2 -T "$secs" -f "$script" "$url" 2>&1 | grep -E "^(tps|latency average|number of transactions actually)"
rm -f "$script"
