#!/usr/bin/env bash
# unigate proxy ratios, all measured in one run: the same closed-loop load,
# alternated target by target, against
#   B   a bare httputil.ReverseProxy (bench/bareproxy),
#   G0  unigate in its default configuration (every request asks Redis),
#   Gt  unigate with session.tracking_cache: true (the CLIENT TRACKING
#       cache of package session),
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
#   BASE_PORT=18100 (uses BASE_PORT..BASE_PORT+9)
#   TARGETS="B G0 Gt Gc"   add Gq: the default configuration with log.level warn
#                       (no access log), to read the access log's cost
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
TARGETS=${TARGETS:-B G0 Gt Gc}
BASE_PORT=${BASE_PORT:-18100}
UPSTREAM_PORT=$BASE_PORT
BARE_PORT=$((BASE_PORT + 1))

# shellcheck source=bench/lib.sh
. bench/lib.sh

gateway G0 $((BASE_PORT + 2)) $((BASE_PORT + 3)) 0s
gateway Gc $((BASE_PORT + 4)) $((BASE_PORT + 5)) 250ms
[[ " $TARGETS " == *" Gt "* ]] && gateway Gt $((BASE_PORT + 8)) $((BASE_PORT + 9)) 0s "$LOG_LEVEL" true
[[ " $TARGETS " == *" Gq "* ]] && gateway Gq $((BASE_PORT + 6)) $((BASE_PORT + 7)) 0s warn

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
read -r -a targets <<<"$TARGETS"
nt=${#targets[@]}
redis_cmds=0 g0_sent=0
for c in $CONNS; do
	for ((r = 0; r < REPS; r++)); do
		for ((i = 0; i < nt; i++)); do
			t=${targets[$(((i + r) % nt))]}
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
	echo "closed loop, $WARMUP warm-up + $DURATION per load, targets alternated; B = bare proxy, G0 = unigate default, Gt = unigate tracking_cache, Gc = unigate local_cache 250ms, Gq = G0 without access log"
	for c in $CONNS; do
		b=""
		for ((r = 0; r < REPS; r++)); do b+="${rps[B,$c,$r]} "; done
		echo "B rps at $c conns: $b"
		for t in "${targets[@]}"; do [ "$t" = B ] || ratio_row "$t" "$c"; done
	done
	awk -v n="$redis_cmds" -v s="$g0_sent" 'BEGIN { if (s > 0) printf "G0: %.3f Redis commands per request (every client of that Redis counted)\n", n / s }'
	for t in "${targets[@]}"; do [ "$t" = B ] || printf 'RSS of %s after the run: %d MiB\n' "$t" $(($(rss_kib "${pid[$t]}") / 1024)); done
} | tee -a "$tmp/report.txt"
mkdir -p bench/results
cp "$tmp/report.txt" "bench/results/proxy-$(date -u +%Y%m%dT%H%M%SZ).txt"
