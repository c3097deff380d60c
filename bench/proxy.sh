#!/usr/bin/env bash
# unigate proxy ratios, all measured in one run: the same closed-loop load,
# alternated target by target, against
#   B   a bare httputil.ReverseProxy (bench/bareproxy),
#   G0  unigate in its default configuration (no session.local_cache: the
#       CLIENT TRACKING cache of package session),
#   Gc  unigate with session.local_cache: 250ms (the pub/sub cache),
# all three in front of the same bench upstream, at each connection count of
# CONNS, REPS times in rotated order; then each ratio G/B of the same
# repetition, their median and spread, and the Redis commands per request.
#
# Loopback only; bounded by DURATION and MAX_REQUESTS per load. See bench/README.md.
#
# Environment (all optional):
#   CONNS="8 64"  REPS=3  DURATION=5s  WARMUP=1s  MAX_REQUESTS=2000000
#   REDIS_URL=redis://127.0.0.1:6379/0   LOG_LEVEL=info   KEEP_TMP=1
#   BASE_PORT=18100 (uses BASE_PORT..BASE_PORT+5)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="/usr/local/go/bin:$PATH"

CONNS=${CONNS:-8 64}
REPS=${REPS:-3}
DURATION=${DURATION:-5s}
WARMUP=${WARMUP:-1s}
MAX_REQUESTS=${MAX_REQUESTS:-2000000}
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}
LOG_LEVEL=${LOG_LEVEL:-info}
BASE_PORT=${BASE_PORT:-18100}
UPSTREAM_PORT=$BASE_PORT
BARE_PORT=$((BASE_PORT + 1))

for v in $(compgen -e | grep '^UNIGATE_' || true); do unset "$v"; done

say() { printf '==> %s\n' "$*" >&2; }
die() { printf '\nbench: FAILED: %s\n' "$*" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/unigate-proxy.XXXXXX")
bin=$tmp/bin
mkdir -p "$bin"
pids=()
cleanup() {
	local pid
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
	if [ -n "${KEEP_TMP:-}" ]; then echo "bench: kept $tmp" >&2; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

last_pid=""
start() {
	local name=$1
	shift
	"$@" >"$tmp/$name.log" 2>&1 </dev/null &
	last_pid=$!
	pids+=("$last_pid")
}
wait_ready() {
	local name=$1 pid=$2 url=$3 i
	shift 3
	for ((i = 0; i < 150; i++)); do
		kill -0 "$pid" 2>/dev/null || { tail -n 20 "$tmp/$name.log" >&2; return 1; }
		curl -fsS -o /dev/null --max-time 1 "$@" "$url" 2>/dev/null && return 0
		sleep 0.1
	done
	tail -n 20 "$tmp/$name.log" >&2
	return 1
}
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
field() { grep -o " $2=[0-9.]*" <<<"$1" | head -n 1 | cut -d= -f2; }
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }

say "build (go $(go env GOVERSION), $(nproc) cores, commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'))"
for tool in loadgen upstream bareproxy; do go build -o "$bin/$tool" "./bench/$tool"; done
go build -o "$bin/unigate" ./cmd/unigate
[ "$(redis-cli -u "$REDIS_URL" ping 2>/dev/null)" = PONG ] || die "Redis does not answer at $REDIS_URL"
for ((p = BASE_PORT; p < BASE_PORT + 6; p++)); do port_free "$p" || die "127.0.0.1:$p is in use (set BASE_PORT)"; done

UPSTREAM_URL="http://127.0.0.1:$UPSTREAM_PORT"
start upstream "$bin/upstream" -listen "127.0.0.1:$UPSTREAM_PORT"
wait_ready upstream "$last_pid" "$UPSTREAM_URL/_bench/stats" || die "the bench upstream did not start"
start bareproxy "$bin/bareproxy" -listen "127.0.0.1:$BARE_PORT" -upstream "$UPSTREAM_URL"
wait_ready bareproxy "$last_pid" "http://127.0.0.1:$BARE_PORT/" || die "the bare proxy did not start"
"$bin/unigate" keys generate --dir "$tmp/keys" >/dev/null 2>&1 || die "unigate keys generate failed"

# gateway NAME PORT METRICS_PORT LOCAL_CACHE: config, account, serve, login,
# handoff; sets cookie[NAME], port[NAME] and pid[NAME].
declare -A cookie port pid
gateway() {
	local name=$1 gport=$2 mport=$3 cache=$4 dir=$tmp/$1 code body redirect jar
	local account="account.localhost:$gport" console="console.localhost:$gport"
	mkdir -p "$dir"
	jar=$dir/cookies.txt
	cat >"$dir/unigate.yaml" <<-YAML
		listen: "127.0.0.1:$gport"
		public_url: "http://$account"
		metrics:
		  listen: "127.0.0.1:$mport"
		secrets:
		  session_key_file: "$tmp/keys/session.key"
		  signing_key_file: "$tmp/keys/signing.pem"
		session:
		  store: redis
		  local_cache: $cache
		  redis:
		    url: "$REDIS_URL"
		    key_prefix: "bench-$name-$$:"
		accounts:
		  driver: sqlite
		  dsn: "$dir/accounts.db"
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
	printf 'bench-password-0123456789\n' | "$bin/unigate" accounts create --email bench@example.com \
		--password-stdin --config "$dir/unigate.yaml" >"$dir/create.log" 2>&1 || die "$name: accounts create failed"
	start "$name" "$bin/unigate" serve --config "$dir/unigate.yaml"
	pid[$name]=$last_pid
	wait_ready "$name" "$last_pid" "http://$account/healthz" --resolve "$account:127.0.0.1" || die "$name: not answering /healthz"
	api() {
		curl -sS --max-time 10 --resolve "$account:127.0.0.1" -c "$jar" -b "$jar" \
			-H 'Content-Type: application/json' -H 'Accept: application/json' \
			-o "$dir/resp.json" -w '%{http_code}' -X POST --data "$2" "http://$account$1"
	}
	[ "$(api /api/v1/login/identify '{"email":"bench@example.com"}')" = 200 ] || die "$name: identify failed"
	[ "$(api /api/v1/login/password '{"password":"bench-password-0123456789"}')" = 200 ] || die "$name: password failed"
	[ "$(api /api/v1/consoles/scaleway/enter '{}')" = 200 ] || die "$name: enter failed: $(head -c 300 "$dir/resp.json")"
	redirect=$(sed -n 's/.*"redirect" *: *"\([^"]*\)".*/\1/p' "$dir/resp.json" | sed 's/\\u0026/\&/g; s#\\/#/#g')
	code=$(curl -sS --max-time 10 --resolve "$console:127.0.0.1" --resolve "$account:127.0.0.1" \
		-c "$jar" -b "$jar" -L --max-redirs 4 -o /dev/null -w '%{http_code}' "$redirect") || code=000
	[ "$code" = 200 ] || die "$name: handoff answered $code"
	cookie[$name]=$(awk '$1 ~ /(^|#HttpOnly_)console\.localhost$/ && $6 ~ /unigate_session$/ { print $6 "=" $7 }' "$jar")
	[ -n "${cookie[$name]}" ] || die "$name: no console cookie"
	port[$name]=$gport
	say "$name (local_cache $cache) on 127.0.0.1:$gport, logged in"
}
gateway G0 $((BASE_PORT + 2)) $((BASE_PORT + 3)) 0s
gateway Gc $((BASE_PORT + 4)) $((BASE_PORT + 5)) 250ms

# load TARGET CONNS: one bounded run; prints the loadgen line.
load() {
	local t=$1 c=$2
	case $t in
	B) "$bin/loadgen" -name B -url "http://127.0.0.1:$BARE_PORT/" -host "console.localhost:$BARE_PORT" \
		-c "$c" -d "$DURATION" -warmup "$WARMUP" -n "$MAX_REQUESTS" ;;
	*) "$bin/loadgen" -name "$t" -url "http://127.0.0.1:${port[$t]}/" -host "console.localhost:${port[$t]}" \
		-cookie "${cookie[$t]}" -c "$c" -d "$DURATION" -warmup "$WARMUP" -n "$MAX_REQUESTS" ;;
	esac
}
redis_total() { redis-cli -u "$REDIS_URL" info stats | tr -d '\r' | sed -n 's/^total_commands_processed://p'; }

declare -A rps
targets=(B G0 Gc)
redis_cmds=0 g0_sent=0
for c in $CONNS; do
	for ((r = 0; r < REPS; r++)); do
		for ((i = 0; i < 3; i++)); do
			t=${targets[$(((i + r) % 3))]}
			[ "$t" = G0 ] && r0=$(redis_total)
			line=$(load "$t" "$c") || die "$t at $c connections: errors or non-2xx: $line"
			if [ "$t" = G0 ]; then
				redis_cmds=$((redis_cmds + $(redis_total) - r0 - 1))
				g0_sent=$((g0_sent + $(field "$line" sent)))
			fi
			rps[$t,$c,$r]=$(field "$line" rps)
			say "c=$c rep=$((r + 1)) $line"
		done
	done
done

# ratio_row NAME CONNS: median, min and max over the repetitions of NAME/B.
ratio_row() {
	local n=$1 c=$2 r list=""
	for ((r = 0; r < REPS; r++)); do
		list+="$(awk -v g="${rps[$n,$c,$r]}" -v b="${rps[B,$c,$r]}" 'BEGIN { printf "%.3f", g / b }') "
	done
	tr ' ' '\n' <<<"$list" | grep . | sort -n | awk -v n="$n" -v c="$c" '
		{ v[NR] = $1 } END { printf "%-3s/B at %3d conns: %.2f  (min %.2f, max %.2f over %d reps)\n", n, c, v[int((NR + 1) / 2)], v[1], v[NR], NR }'
}
{
	echo
	echo "unigate proxy ratios — $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $(nproc) cores shared by load generator, servers and Redis"
	echo "closed loop, $WARMUP warm-up + $DURATION per load, targets alternated; B = bare proxy, G0 = unigate default, Gc = unigate local_cache 250ms"
	for c in $CONNS; do
		b=""
		for ((r = 0; r < REPS; r++)); do b+="${rps[B,$c,$r]} "; done
		echo "B rps at $c conns: $b"
		ratio_row G0 "$c"
		ratio_row Gc "$c"
	done
	awk -v n="$redis_cmds" -v s="$g0_sent" 'BEGIN { if (s > 0) printf "G0: %.3f Redis commands per request (every client of that Redis counted)\n", n / s }'
	echo "RSS after the run: G0 $(($(rss_kib "${pid[G0]}") / 1024)) MiB, Gc $(($(rss_kib "${pid[Gc]}") / 1024)) MiB"
} | tee -a "$tmp/report.txt"
mkdir -p bench/results
cp "$tmp/report.txt" "bench/results/proxy-$(date -u +%Y%m%dT%H%M%SZ).txt"
