#!/usr/bin/env bash
# Mail sender throughput: one sender without a rate limit
# (mail.rate_per_second: 0) delivers COUNT (5000) unification notices from the
# real outbox (PostgreSQL, database "test", a fresh schema; and SQLite)
# through SMTP to a local sink, and prints mails/s
# (mail/throughput_test.go). The README's unification runbook quotes it.
#
#   bench/mail.sh
#   COUNT=20000 bench/mail.sh
#
# Needs Go and PostgreSQL (UNIGATE_TEST_POSTGRES_DSN). Not run by CI.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
COUNT=${COUNT:-5000}
export UNIGATE_TEST_POSTGRES_DSN=${UNIGATE_TEST_POSTGRES_DSN:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
go test ./mail -run '^$' -bench '^BenchmarkSenderThroughput$' -benchtime "${COUNT}x" -count 1
