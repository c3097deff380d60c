#!/usr/bin/env bash
# unigate proxy benchmark: the same closed-loop load, in one run, against
#   1. the bench upstream directly,
#   2. a bare httputil.ReverseProxy in front of it (bench/bareproxy),
#   3. unigate in front of it, on a console host, with a real session cookie,
# then a table of rps / p50 / p99 and the ratios unigate/bare, and the Redis
# commands unigate made per proxied request. See bench/README.md.
#
# Everything listens on 127.0.0.1 and the load generator refuses any other
# target. Every process started here is stopped on exit.
#
# Environment (all optional):
#   DURATION=10s  CONCURRENCY=32  WARMUP=1s   the load of each of the three runs
#   MAX_REQUESTS=2000000                      upper bound on requests per run
#   GATEWAY_PORT=18080 METRICS_PORT=18464 UPSTREAM_PORT=18081 BARE_PORT=18082
#   REDIS_URL=redis://127.0.0.1:6379/0        the gateway's session store
#   LOG_LEVEL=info                            the gateway's log level
#   SKIP_GATEWAY=1                            measure only upstream and bare proxy
#   GATEWAY_BIN=path                          use this unigate binary instead of building ./cmd/unigate
#   KEEP_TMP=1                                keep the temp dir (binaries, config, logs)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="/usr/local/go/bin:$PATH"

DURATION=${DURATION:-10s}
CONCURRENCY=${CONCURRENCY:-32}
LOCAL_CACHE=${LOCAL_CACHE:-0s}
WARMUP=${WARMUP:-1s}
MAX_REQUESTS=${MAX_REQUESTS:-2000000}
GATEWAY_PORT=${GATEWAY_PORT:-18080}
METRICS_PORT=${METRICS_PORT:-18464}
UPSTREAM_PORT=${UPSTREAM_PORT:-18081}
BARE_PORT=${BARE_PORT:-18082}
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}
LOG_LEVEL=${LOG_LEVEL:-info}
SKIP_GATEWAY=${SKIP_GATEWAY:-}
GATEWAY_BIN=${GATEWAY_BIN:-}

EMAIL=bench@example.com
PASSWORD=bench-password-0123456789
ACCOUNT_HOST="account.localhost:$GATEWAY_PORT"
CONSOLE_HOST="console.localhost:$GATEWAY_PORT"

# The gateway must see only the config written here, not overrides that
# happen to be in the caller's environment.
for v in $(compgen -e | grep '^UNIGATE_' || true); do unset "$v"; done

say() { printf '==> %s\n' "$*"; }
die() { printf '\nbench: FAILED: %s\n' "$*" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/unigate-bench.XXXXXX")
bin=$tmp/bin
mkdir -p "$bin"
pids=()

cleanup() {
	local pid i
	for pid in "${pids[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${pids[@]}"; do
		for ((i = 0; i < 50; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	if [ -n "${KEEP_TMP:-}" ]; then
		echo "bench: kept $tmp"
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start NAME CMD...: run CMD in the background, output to $tmp/NAME.log;
# its pid in last_pid.
last_pid=""
start() {
	local name=$1
	shift
	"$@" >"$tmp/$name.log" 2>&1 </dev/null &
	last_pid=$!
	pids+=("$last_pid")
}

# wait_ready NAME PID URL [CURL ARGS...]: poll URL for a 2xx for up to 15 s.
wait_ready() {
	local name=$1 pid=$2 url=$3 i
	shift 3
	for ((i = 0; i < 150; i++)); do
		if ! kill -0 "$pid" 2>/dev/null; then
			local status=0
			wait "$pid" 2>/dev/null || status=$?
			echo "bench: $name exited with status $status before answering $url" >&2
			tail -n 20 "$tmp/$name.log" >&2 || true
			return 1
		fi
		if curl -fsS -o /dev/null --max-time 1 "$@" "$url" 2>/dev/null; then
			return 0
		fi
		sleep 0.1
	done
	echo "bench: $name did not answer $url within 15s" >&2
	tail -n 20 "$tmp/$name.log" >&2 || true
	return 1
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# field LINE KEY: the number after " KEY=" in a loadgen result line.
field() { grep -o " $2=[0-9.]*" <<<"$1" | head -n 1 | cut -d= -f2; }

# ---- build --------------------------------------------------------------------
say "build (go $(go env GOVERSION), $(nproc) cores, commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'))"
for tool in loadgen upstream bareproxy; do
	go build -o "$bin/$tool" "./bench/$tool"
done
gateway_err=""
if [ -n "$SKIP_GATEWAY" ]; then
	say "SKIP_GATEWAY set: unigate is not measured"
elif [ -n "$GATEWAY_BIN" ]; then
	cp "$GATEWAY_BIN" "$bin/unigate" || die "GATEWAY_BIN=$GATEWAY_BIN: cannot copy it"
elif ! go build -o "$bin/unigate" ./cmd/unigate 2>"$tmp/build-unigate.log"; then
	gateway_err="building ./cmd/unigate failed: $(head -n 3 "$tmp/build-unigate.log" | tr '\n' ' ')"
	printf 'bench: unigate: %s\n' "$gateway_err" >&2
	echo "bench: measuring upstream and bare proxy only; the run will fail at the end" >&2
fi

for port in "$UPSTREAM_PORT" "$BARE_PORT" "$GATEWAY_PORT" "$METRICS_PORT"; do
	port_free "$port" || die "127.0.0.1:$port is already in use (set *_PORT to move it)"
done

# ---- upstream and bare proxy ------------------------------------------------
UPSTREAM_URL="http://127.0.0.1:$UPSTREAM_PORT"
say "upstream on $UPSTREAM_URL, bare proxy on 127.0.0.1:$BARE_PORT"
start upstream "$bin/upstream" -listen "127.0.0.1:$UPSTREAM_PORT"
pid_upstream=$last_pid
start bareproxy "$bin/bareproxy" -listen "127.0.0.1:$BARE_PORT" -upstream "$UPSTREAM_URL"
pid_bareproxy=$last_pid
wait_ready upstream "$pid_upstream" "$UPSTREAM_URL/_bench/stats" || die "the bench upstream did not start"
wait_ready bareproxy "$pid_bareproxy" "http://127.0.0.1:$BARE_PORT/" || die "the bare proxy did not start"

upstream_stats() { curl -fsS --max-time 5 "$UPSTREAM_URL/_bench/stats"; }
stat_of() { sed -n "s/.*\"$2\":\([0-9]*\).*/\1/p" <<<"$1"; }

# ---- unigate --------------------------------------------------------------------
# setup_gateway: keys, config, one account, serve, login and handoff; on
# success CONSOLE_COOKIE holds the console host's Cookie header value. On
# failure it sets gateway_err and returns 1.
CONSOLE_COOKIE=""
jar=$tmp/cookies.txt

# api PATH JSON: POST to the account host's JSON API with the cookie jar;
# the body lands in $tmp/resp.json, the status is printed.
api() {
	curl -sS --max-time 10 --resolve "$ACCOUNT_HOST:127.0.0.1" -c "$jar" -b "$jar" \
		-H 'Content-Type: application/json' -H 'Accept: application/json' \
		-o "$tmp/resp.json" -w '%{http_code}' -X POST --data "$2" "http://$ACCOUNT_HOST$1"
}

gateway_fail() {
	gateway_err="$*"
	printf 'bench: unigate: %s\n' "$*" >&2
	if [ -s "$tmp/unigate.log" ]; then
		echo "bench: last lines of the gateway's log:" >&2
		tail -n 15 "$tmp/unigate.log" | sed 's/^/    /' >&2
	fi
	return 1
}

setup_gateway() {
	local ug=$bin/unigate cfg=$tmp/unigate.yaml code body redirect

	[ "$(redis-cli -u "$REDIS_URL" ping 2>/dev/null)" = PONG ] ||
		{ gateway_fail "Redis does not answer at $REDIS_URL (start it; see .ci/run)"; return 1; }

	"$ug" keys generate --dir "$tmp/keys" >"$tmp/keys.log" 2>&1 ||
		{ gateway_fail "unigate keys generate failed: $(tail -n 3 "$tmp/keys.log" | tr '\n' ' ')"; return 1; }

	cat >"$cfg" <<-YAML
		listen: "127.0.0.1:$GATEWAY_PORT"
		public_url: "http://$ACCOUNT_HOST"
		metrics:
		  listen: "127.0.0.1:$METRICS_PORT"
		secrets:
		  session_key_file: "$tmp/keys/session.key"
		  signing_key_file: "$tmp/keys/signing.pem"
		session:
		  store: redis
		  local_cache: $LOCAL_CACHE
		  redis:
		    url: "$REDIS_URL"
		accounts:
		  driver: sqlite
		  dsn: "$tmp/accounts.db"
		mail:
		  transport: log
		  from: "Bench <no-reply@example.com>"
		log:
		  level: $LOG_LEVEL
		consoles:
		  - id: scaleway
		    name: "Scaleway"
		    hosts: ["console.localhost"]
		    upstream: "$UPSTREAM_URL"
	YAML

	"$ug" check-config --config "$cfg" >"$tmp/check-config.log" 2>&1 ||
		{ gateway_fail "unigate check-config refused the bench config: $(head -n 5 "$tmp/check-config.log" | tr '\n' ' ')"; return 1; }
	printf '%s\n' "$PASSWORD" | "$ug" accounts create --email "$EMAIL" --password-stdin --config "$cfg" \
		>"$tmp/accounts-create.log" 2>&1 ||
		{ gateway_fail "unigate accounts create failed: $(tail -n 3 "$tmp/accounts-create.log" | tr '\n' ' ')"; return 1; }

	say "unigate on http://$ACCOUNT_HOST (console http://$CONSOLE_HOST), metrics on 127.0.0.1:$METRICS_PORT"
	start unigate "$ug" serve --config "$cfg"
	wait_ready unigate "$last_pid" "http://$ACCOUNT_HOST/healthz" --resolve "$ACCOUNT_HOST:127.0.0.1" ||
		{ gateway_fail "unigate serve is not answering GET /healthz"; return 1; }

	# Login, exactly as CONTRACT §5: identify, then the password.
	say "login as $EMAIL"
	code=$(api /api/v1/login/identify "{\"email\":\"$EMAIL\"}") || code=000
	[ "$code" = 200 ] ||
		{ gateway_fail "login step: POST /api/v1/login/identify answered $code: $(head -c 300 "$tmp/resp.json" 2>/dev/null)"; return 1; }
	code=$(api /api/v1/login/password "{\"password\":\"$PASSWORD\"}") || code=000
	body=$(head -c 600 "$tmp/resp.json" 2>/dev/null || true)
	[ "$code" = 200 ] ||
		{ gateway_fail "login step: POST /api/v1/login/password answered $code: $body"; return 1; }
	grep -Eq '"next" *: *"done"' <<<"$body" ||
		{ gateway_fail "login step: POST /api/v1/login/password did not finish the login: $body"; return 1; }

	# Enter the console: a handoff URL on the console host.
	code=$(api /api/v1/consoles/scaleway/enter '{}') || code=000
	body=$(head -c 600 "$tmp/resp.json" 2>/dev/null || true)
	[ "$code" = 200 ] ||
		{ gateway_fail "login step: POST /api/v1/consoles/scaleway/enter answered $code: $body"; return 1; }
	# encoding/json writes & as \u0026 (and may write / as \/).
	redirect=$(sed -n 's/.*"redirect" *: *"\([^"]*\)".*/\1/p' <<<"$body" | sed 's/\\u0026/\&/g; s#\\/#/#g')
	case "$redirect" in
	"http://$CONSOLE_HOST/.auth/handoff?"*) ;;
	*) gateway_fail "login step: enter answered redirect \"$redirect\", want http://$CONSOLE_HOST/.auth/handoff?code=…"; return 1 ;;
	esac

	# The handoff has three steps: the console host sets a nonce cookie, the
	# account host binds the code to this browser's session, the console host
	# sets its session cookie. Follow them with one cookie jar for both hosts.
	code=$(curl -sS --max-time 10 --resolve "$CONSOLE_HOST:127.0.0.1" --resolve "$ACCOUNT_HOST:127.0.0.1" \
		-c "$jar" -b "$jar" -L --max-redirs 4 -o /dev/null -w '%{http_code}' "$redirect") || code=000
	[ "$code" = 200 ] ||
		{ gateway_fail "login step: following the handoff from $CONSOLE_HOST answered $code, want 200 from the console"; return 1; }
	# The jar's console-host line: domain, flag, path, secure, expiry, name, value.
	CONSOLE_COOKIE=$(awk -v host="${CONSOLE_HOST%%:*}" '$1 ~ ("(^|#HttpOnly_)" host "$") && $6 ~ /unigate_session$/ { print $6 "=" $7 }' "$jar")
	[ -n "$CONSOLE_COOKIE" ] ||
		{ gateway_fail "login step: the handoff set no session cookie on $CONSOLE_HOST"; return 1; }

	# One authenticated request must reach the upstream with identity headers.
	local before after
	before=$(stat_of "$(upstream_stats)" with_auth)
	code=$(curl -sS --max-time 10 --resolve "$CONSOLE_HOST:127.0.0.1" -H "Cookie: $CONSOLE_COOKIE" \
		-o /dev/null -w '%{http_code}' "http://$CONSOLE_HOST/") || code=000
	after=$(stat_of "$(upstream_stats)" with_auth)
	if [ "$code" != 200 ] || ! [ "${after:-0}" -gt "${before:-0}" ]; then
		gateway_fail "GET http://$CONSOLE_HOST/ with the console cookie answered $code; the upstream saw $((${after:-0} - ${before:-0})) request(s) with X-Auth-User-Id"
		return 1
	fi
	say "console cookie ok (${CONSOLE_COOKIE%%=*}=…)"
}

if [ -z "$SKIP_GATEWAY" ] && [ -z "$gateway_err" ]; then
	setup_gateway || true
fi
# Without the gateway the script still measures the other two, then fails.

# ---- load ---------------------------------------------------------------------
# load NAME URL [loadgen flags...]: one run; its result line in results[NAME].
declare -A results
load() {
	local name=$1 url=$2 line status=0
	shift 2
	line=$("$bin/loadgen" -name "$name" -url "$url" -c "$CONCURRENCY" -d "$DURATION" \
		-warmup "$WARMUP" -n "$MAX_REQUESTS" "$@") || status=$?
	echo "    $line"
	results[$name]=$line
	return "$status"
}

say "load: $CONCURRENCY connections, ${WARMUP} warm-up + $DURATION each, at most $MAX_REQUESTS requests"
load upstream "$UPSTREAM_URL/" || echo "bench: WARNING: errors or non-2xx answers from the upstream" >&2
load bareproxy "http://127.0.0.1:$BARE_PORT/" || echo "bench: WARNING: errors or non-2xx answers from the bare proxy" >&2

redis_per_req=""
redis_by_cmd=""
if [ -n "$CONSOLE_COOKIE" ]; then
	redis_total() { redis-cli -u "$REDIS_URL" info stats 2>/dev/null | tr -d '\r' | sed -n 's/^total_commands_processed://p'; }
	redis_cmds() { redis-cli -u "$REDIS_URL" info commandstats 2>/dev/null | tr -d '\r' | sed -n 's/^cmdstat_\([^:]*\):calls=\([0-9]*\).*/\1 \2/p'; }
	redis_cmds >"$tmp/redis-before.txt"
	r0=$(redis_total)
	u0=$(upstream_stats)
	ustatus=0
	load unigate "http://127.0.0.1:$GATEWAY_PORT/" -host "$CONSOLE_HOST" -cookie "$CONSOLE_COOKIE" || ustatus=$?
	u1=$(upstream_stats)
	r1=$(redis_total)
	redis_cmds >"$tmp/redis-after.txt"

	sent=$(field "${results[unigate]}" sent)
	forwarded=$(( $(stat_of "$u1" requests) - $(stat_of "$u0" requests) ))
	with_auth=$(( $(stat_of "$u1" with_auth) - $(stat_of "$u0" with_auth) ))
	if [ "$ustatus" -ne 0 ]; then
		gateway_err="unigate answered errors or non-2xx during the load: $(grep -o 'errors=[0-9]* non2xx=[0-9]*' <<<"${results[unigate]}")"
	elif [ "$with_auth" -ne "$sent" ]; then
		gateway_err="unigate sent $sent requests but the upstream saw $with_auth with X-Auth-User-Id ($forwarded in all)"
	fi
	if [ -n "$r0" ] && [ -n "$r1" ] && [ "${sent:-0}" -gt 0 ]; then
		# The INFO that read r0 is counted in r1, not in r0.
		redis_per_req=$(awk -v a="$r0" -v b="$r1" -v n="$sent" 'BEGIN { printf "%.2f", (b - a - 1) / n }')
		redis_by_cmd=$(awk -v n="$sent" '
			NR == FNR { before[$1] = $2; next }
			$1 != "info" { d = $2 - before[$1]; if (d / n >= 0.01) { printf "%s%s %.2f", sep, $1, d / n; sep = ", " } }
		' "$tmp/redis-before.txt" "$tmp/redis-after.txt")
	fi
fi

# ---- report -------------------------------------------------------------------
report() {
	echo
	echo "unigate proxy benchmark — $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $(nproc) cores shared by load generator and servers"
	echo "closed loop: $CONCURRENCY connections, $WARMUP warm-up + $DURATION per target, GET of a 64-byte answer"
	echo
	printf '%-10s %10s %10s %10s %8s %8s\n' target rps p50_us p99_us errors non2xx
	local name line
	for name in upstream bareproxy unigate; do
		line=${results[$name]:-}
		if [ -z "$line" ]; then
			printf '%-10s %10s\n' "$name" "not measured"
			continue
		fi
		printf '%-10s %10s %10s %10s %8s %8s\n' "$name" "$(field "$line" rps)" "$(field "$line" p50)" \
			"$(field "$line" p99)" "$(field "$line" errors)" "$(field "$line" non2xx)"
	done
	echo
	if [ -n "${results[bareproxy]:-}" ] && [ -n "${results[upstream]:-}" ]; then
		awk -v b="$(field "${results[bareproxy]}" rps)" -v u="$(field "${results[upstream]}" rps)" \
			'BEGIN { if (u > 0) printf "bareproxy/upstream: rps x%.2f\n", b / u }'
	fi
	if [ -n "${results[unigate]:-}" ] && [ -n "${results[bareproxy]:-}" ]; then
		local g=${results[unigate]} b=${results[bareproxy]}
		awk -v gr="$(field "$g" rps)" -v br="$(field "$b" rps)" \
			-v g50="$(field "$g" p50)" -v b50="$(field "$b" p50)" \
			-v g99="$(field "$g" p99)" -v b99="$(field "$b" p99)" 'BEGIN {
				if (br > 0 && b50 > 0 && b99 > 0)
					printf "unigate/bareproxy:  rps x%.2f, p50 x%.2f (%+.1fus), p99 x%.2f (%+.1fus)\n",
						gr / br, g50 / b50, g50 - b50, g99 / b99, g99 - b99
			}'
	fi
	if [ -n "$redis_per_req" ]; then
		echo "redis: $redis_per_req commands per proxied request ($redis_by_cmd) — counts every client of that Redis"
	fi
}
mkdir -p bench/results
out=bench/results/run-$(date -u +%Y%m%dT%H%M%SZ).txt
report | tee "$out"
echo "(saved in $out)"

if [ -n "$gateway_err" ]; then
	die "unigate not measured: $gateway_err"
fi
