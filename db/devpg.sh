#!/bin/sh
# db/devpg.sh DBNAME — print a DATABASE_URL for DBNAME on a reachable
# PostgreSQL, starting one if needed. Used by `make run` and `make test`.
#
#   1. $DATABASE_URL, if it answers: its server is used (DBNAME is created
#      there when it is missing).
#   2. Otherwise a private cluster under ./.data/pg (port 54329, trust auth
#      on 127.0.0.1 only), created with the system's PostgreSQL binaries;
#      the postgresql package is installed with apt-get if they are missing.
#
# Messages go to stderr; only the URL goes to stdout.
set -eu

name=${1:-saathi}
port=${SAATHI_DEV_PG_PORT:-54329}
root=$(pwd)
data=$root/.data/pg

say() { echo "devpg: $*" >&2; }

pg_bin() {
	ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

# psql from PATH, or from the server's binaries.
psql_cmd() {
	if command -v psql >/dev/null 2>&1; then
		echo psql
	elif [ -n "$(pg_bin)" ]; then
		echo "$(pg_bin)/psql"
	fi
}

# with_db URL NAME: the URL pointing at database NAME.
with_db() {
	printf '%s\n' "$1" | sed -E "s#^(postgres(ql)?://[^/?]*)/?[^?]*#\1/$2#"
}

answers() {
	[ -n "$(psql_cmd)" ] && "$(psql_cmd)" "$1" -Atqc 'SELECT 1' >/dev/null 2>&1
}

ensure_db() { # ensure_db SERVER_URL NAME
	maint=$(with_db "$1" postgres)
	if ! "$(psql_cmd)" "$maint" -Atqc "SELECT 1 FROM pg_database WHERE datname = '$2'" | grep -q 1; then
		say "creating database $2"
		"$(psql_cmd)" "$maint" -qc "CREATE DATABASE \"$2\"" >/dev/null
	fi
}

# 1. A reachable DATABASE_URL needs nothing installed but psql.
if [ -n "${DATABASE_URL:-}" ]; then
	if answers "$DATABASE_URL"; then
		ensure_db "$DATABASE_URL" "$name"
		with_db "$DATABASE_URL" "$name"
		exit 0
	fi
	if [ "${CI:-}" = "true" ]; then
		say "DATABASE_URL does not answer (or psql is missing), and CI must not fall back"
		exit 1
	fi
	say "DATABASE_URL does not answer; using a private cluster under .data/pg"
fi

# 2. A private cluster, with the system's PostgreSQL binaries.
if [ -z "$(pg_bin)" ]; then
	if [ "$(id -u)" -ne 0 ]; then
		say "PostgreSQL is not installed; run as root or: sudo apt-get install -y postgresql"
		exit 1
	fi
	say "installing PostgreSQL (apt-get install postgresql)"
	DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
fi
bin=$(pg_bin)

# The private cluster runs as the invoking user, or as postgres when root
# (initdb refuses to run as root).
as_owner() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

mkdir -p "$root/.data"
if [ "$(id -u)" -eq 0 ] && ! runuser -u postgres -- test -x "$root/.data"; then
	# The checkout is not reachable by the postgres user (e.g. under /root).
	data=/var/lib/saathi-dev/$(printf '%s' "$root" | cksum | cut -d' ' -f1)/pg
	say "the postgres user cannot enter $root; keeping the cluster in $data"
fi
if [ ! -f "$data/PG_VERSION" ]; then
	say "creating a private PostgreSQL cluster in $data"
	mkdir -p "$data"
	chmod 700 "$data"
	[ "$(id -u)" -eq 0 ] && chown postgres:postgres "$data"
	as_owner "$bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C >/dev/null
fi
if ! as_owner "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
	say "starting PostgreSQL on 127.0.0.1:$port"
	if ! as_owner "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w -t 60 \
		-o "-p $port -c listen_addresses=127.0.0.1 -k $data" start >/dev/null; then
		tail -n 5 "$data/server.log" >&2
		say "PostgreSQL did not start (is port $port taken? set SAATHI_DEV_PG_PORT)"
		exit 1
	fi
fi
url="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
ensure_db "$url" "$name"
with_db "$url" "$name"
