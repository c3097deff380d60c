#!/usr/bin/env bash
# Account unification benchmark: generates DEDIBOX (1,000,000) Dedibox and
# SCALEWAY (600,000) Scaleway records with unify/cmd/gen, then runs the real
# `unigate unify` and `unigate unify verify` on PostgreSQL (database "test", a
# fresh schema, dropped afterwards) and on SQLite (a fresh file), printing
# records/s and peak RSS (GNU time's "Maximum resident set size").
#
#   bench/unify.sh                         # both drivers, 1,000,000 + 600,000
#   DRIVERS=postgres bench/unify.sh
#   DEDIBOX=100000 SCALEWAY=60000 bench/unify.sh
#   PG_DSN='postgres://postgres@127.0.0.1:5432/test?sslmode=disable' bench/unify.sh
#   RESTORE=0 bench/unify.sh               # skip the restore comparison
#
# On PostgreSQL it then loads the rows the first run wrote into a second
# fresh schema with psql, the way pg_restore does it: pg_dump's pre-data
# section (bare tables), its data section (COPY), then its post-data section
# (primary keys, foreign keys, indexes); and prints restore time / unify
# time, the figure issue 15 asks to be >= 1.0.
#
# Needs Go, psql, pg_dump and /usr/bin/time. Not run by CI: it takes minutes.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

DEDIBOX=${DEDIBOX:-1000000}
SCALEWAY=${SCALEWAY:-600000}
DRIVERS=${DRIVERS:-"postgres sqlite"}
PG_DSN=${PG_DSN:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/unify-bench.XXXXXX")
SCHEMA=unify_bench_$$
RESTORE=${RESTORE:-1}
cleanup() {
	psql -w "$PG_DSN" -qc "DROP SCHEMA IF EXISTS $SCHEMA CASCADE; DROP SCHEMA IF EXISTS ${SCHEMA}_restore CASCADE" >/dev/null 2>&1 || true
	[ -n "${KEEP:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT

echo "== building unigate, generating $DEDIBOX Dedibox + $SCALEWAY Scaleway records in $WORK"
go build -o "$WORK/unigate" ./cmd/unigate
go run ./unify/cmd/gen --dedibox "$DEDIBOX" --scaleway "$SCALEWAY" --seed 1 --out "$WORK/in"
"$WORK/unigate" keys generate --dir "$WORK/keys" >/dev/null
records=$((DEDIBOX + SCALEWAY))
ls -l "$WORK/in"

config() { # driver dsn
	cat >"$WORK/$1.yaml" <<YAML
public_url: "https://account.example.com"
secrets:
  session_key_file: "$WORK/keys/session.key"
  signing_key_file: "$WORK/keys/signing.pem"
session:
  store: memory
accounts:
  driver: $1
  dsn: "$2"
mail:
  transport: log
  from: "Accounts <no-reply@example.com>"
login:
  legacy_login_cutoff: "2025-10-28"
consoles:
  - id: dedibox
    hosts: [console.online.example]
    upstream: "http://127.0.0.1:9001"
  - id: scaleway
    hosts: [console.scaleway.example]
    upstream: "http://127.0.0.1:9002"
YAML
}

# timed NAME CMD...: runs CMD under GNU time; prints seconds and peak RSS.
timed() {
	local name=$1
	shift
	local rc=0
	/usr/bin/time -f "%e %M" -o "$WORK/time" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" || rc=$?
	read -r secs kb <"$WORK/time"
	last_secs=$secs
	printf '%-22s %8.1f s  %8.0f records/s  peak RSS %4d MiB  (exit %d)\n' \
		"$name" "$secs" "$(echo "$records / $secs" | bc -l)" $((kb / 1024)) "$rc"
	tail -n 4 "$WORK/$name.out" | sed 's/^/    /'
}

# restore_compare: the pg_restore way of loading what the first run wrote
# (see the header), into ${SCHEMA}_restore, timed as one.
restore_compare() {
	local part target=${SCHEMA}_restore rows
	for part in pre-data data post-data; do
		pg_dump -w "$PG_DSN" --schema="$SCHEMA" --section="$part" --no-owner --no-privileges \
			-f "$WORK/$part.raw.sql"
		sed "s/\b$SCHEMA\b/$target/g" "$WORK/$part.raw.sql" >"$WORK/$part.sql"
	done
	rows=$(psql -w "$PG_DSN" -Atc "SELECT sum(n_live_tup) FROM pg_stat_user_tables WHERE schemaname = '$SCHEMA'")
	cat >"$WORK/restore.sh" <<-SH
		set -e
		for part in pre-data data post-data; do
			psql -w "$PG_DSN" -q -v ON_ERROR_STOP=1 -f "$WORK/\$part.sql" >/dev/null
		done
	SH
	timed "postgres restore" bash "$WORK/restore.sh"
	awk -v r="$last_secs" -v u="$unify_secs" -v n="$rows" 'BEGIN {
		printf "    about %s rows; restore %.1f s / unify %.1f s = %.2f (>= 1.0: the unification is faster than a restore of its own output)\n", n, r, u, r / u }'
	psql -w "$PG_DSN" -qc "SET client_min_messages = warning; DROP SCHEMA IF EXISTS $target CASCADE" >/dev/null
}

for driver in $DRIVERS; do
	case $driver in
	postgres)
		psql -w "$PG_DSN" -qc "DROP SCHEMA IF EXISTS $SCHEMA CASCADE; CREATE SCHEMA $SCHEMA" >/dev/null
		sep='?'
		case $PG_DSN in *\?*) sep='&' ;; esac
		config postgres "$PG_DSN${sep}search_path=$SCHEMA"
		;;
	sqlite)
		config sqlite "$WORK/accounts.db"
		;;
	esac
	echo "== $driver"
	args=(--config "$WORK/$driver.yaml" --dedibox "$WORK/in/dedibox.jsonl" --scaleway "$WORK/in/scaleway.jsonl")
	timed "$driver unify" "$WORK/unigate" unify "${args[@]}" --report "$WORK/$driver-report.json"
	unify_secs=$last_secs
	if [ "$driver" = postgres ] && [ "$RESTORE" = 1 ]; then
		restore_compare
	fi
	timed "$driver re-run" "$WORK/unigate" unify "${args[@]}"
	timed "$driver verify" "$WORK/unigate" unify verify "${args[@]}"
done
