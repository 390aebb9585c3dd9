#!/bin/sh
# Inbound webhook benchmark (texts, closed and open loop; the voice answer
# and key-press webhooks of check-in calls; "3" to the caseworker's alert
# text), side by side with PostgreSQL's own single-row insert rate on the
# same server:
#   sh cmd/loadgen/bench-webhook.sh [seconds] [concurrency]
# Environment:
#   ROLE=web                 Saathi's web role alone (no worker, no voice, no alerts)
#   LATENCY=150ms            the fake Twilio's answer time (0, 150ms, 100ms-200ms; default 0)
#   OPEN=50,80,95            open-loop rates, in % of the closed loop's (default 50,80,95); OPEN= for none
#   ALERTS=1000              '3' replies timed to their alert text (default 1000)
#   SURVIVORS=500            survivors enrolled for the load (default 500)
#   SAATHI_WORKERS=50        Saathi's worker setting (default 50, production's)
#   PROFILE=cpu.pprof        write Saathi's CPU profile there (go tool pprof)
#   PGSS=20                  print the 20 statements that took the most time
#                            during the load (pg_stat_statements must be in the
#                            server's shared_preload_libraries)
# Saathi (web and worker in one process) runs against a fresh database that
# commits durably (synchronous_commit on, as production), with the twilio
# provider pointed at loadgen's fake Twilio; loadgen, a second process,
# posts signed webhooks over loopback and checks afterwards that every 200
# was stored; then pgbench runs a one-insert script with the same number of
# clients for the same time against the same database.
set -eu
cd "$(dirname "$0")/../.."
secs=${1:-20}
conc=${2:-16}
role=${ROLE:-all}
mkdir -p .data
go build -o .data/saathi ./cmd/saathi
go build -o .data/loadgen ./cmd/loadgen

server=$(sh db/devpg.sh postgres)
name="saathi_bench_$$"
psql "$server" -qc "CREATE DATABASE $name"
# Whatever the server's default, this run commits as production does.
psql "$server" -qc "ALTER DATABASE $name SET synchronous_commit = on"
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

echo "settings: synchronous_commit $(psql "$url" -Atc 'SHOW synchronous_commit'), fsync $(psql "$url" -Atc 'SHOW fsync');" \
	"role $role, SAATHI_WORKERS ${SAATHI_WORKERS:-50 (default)}, SAATHI_SMS_RATE ${SAATHI_SMS_RATE:-default}," \
	"SAATHI_CALL_RATE ${SAATHI_CALL_RATE:-default}; fake Twilio latency ${LATENCY:-0};" \
	"$conc clients, ${secs}s per phase; $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"

.data/saathi migrate
if [ -n "${PGSS:-}" ]; then
	psql "$url" -qc "CREATE EXTENSION IF NOT EXISTS pg_stat_statements"
fi
admin=$(.data/saathi staff add --name Bench --role admin | sed -n 's/^token: //p')
cw=$(.data/saathi staff add --name Caseworker --role caseworker --phone +919000000001 | sed -n 's/.*(id \([0-9a-f-]*\)).*/\1/p')

alerts=${ALERTS:-1000}
voice=-voice
if [ "$role" = web ]; then
	alerts=0 voice=
fi
.data/loadgen -target http://127.0.0.1:18080 -admin-token "$admin" -caseworker-id "$cw" \
	-duration "${secs}s" -concurrency "$conc" -survivors "${SURVIVORS:-500}" \
	-open-loop "${OPEN-50,80,95}" -twilio-latency "${LATENCY:-0}" \
	-alerts "$alerts" -spool-dir "$SAATHI_SPOOL_DIR" $voice &
lg=$!
sleep 1
[ -n "${PGSS:-}" ] && psql "$url" -qAtc "SELECT pg_stat_statements_reset()" >/dev/null
SAATHI_CPU_PROFILE="${PROFILE:-}" .data/saathi serve --role="$role" &
sv=$!
status=0
wait "$lg" || status=$?
kill "$sv"
wait "$sv" 2>/dev/null || true
sv=
if [ -n "${PGSS:-}" ]; then
	echo "pg_stat_statements, this database, the $PGSS statements that took the most time:"
	psql "$url" -P pager=off -c "SELECT calls, round(total_exec_time::numeric) AS total_ms,
		round((100 * total_exec_time / sum(total_exec_time) OVER ())::numeric, 1) AS pct,
		round(mean_exec_time::numeric, 3) AS mean_ms, rows,
		left(regexp_replace(query, '\s+', ' ', 'g'), 90) AS query
		FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
		ORDER BY total_exec_time DESC LIMIT $PGSS"
	psql "$url" -P pager=off -c "SELECT sum(calls) AS statements, round(sum(total_exec_time)::numeric) AS total_ms
		FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
fi

psql "$url" -qc "CREATE TABLE bench_insert (id bigserial PRIMARY KEY, payload text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())"
script=$(mktemp)
echo "INSERT INTO bench_insert (payload) VALUES ('x');" > "$script"
echo "pgbench, one-row insert, $conc clients, ${secs}s, synchronous_commit $(psql "$url" -Atc 'SHOW synchronous_commit'):"
pgbench -n -c "$conc" -j 2 -T "$secs" -f "$script" "$url" 2>&1 | grep -E "^(tps|latency average|number of transactions actually)"
rm -f "$script"
exit "$status"
