#!/usr/bin/env bash
# unigate memory under load, default configuration (bench/lib.sh's gateway):
#   1. a closed-loop load of LOAD_CONNS connections for LOAD_DURATION; the
#      gateway's RSS is sampled every 10 s, and the last sample is compared
#      with the one at 30 s (issue 15 asks for 5 minutes; 2 are the default
#      here because the machine is shared: LOAD_DURATION=5m for the full run);
#   2. IDLE_CONNS keep-alive connections, each used once (a real session),
#      then held idle for IDLE_HOLD; RSS while they are all held.
# Loopback only; every process is bounded in time and count.
#
# Environment (all optional):
#   LOAD_CONNS=256 LOAD_DURATION=120s IDLE_CONNS=10000 IDLE_HOLD=20s
#   REDIS_URL=redis://127.0.0.1:6379/0 LOG_LEVEL=info BASE_PORT=18200 KEEP_TMP=1
#   GOMEMLIMIT=150MiB   passed to the gateway: the Go soft memory limit, which
#                       makes it return freed memory to the system
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="/usr/local/go/bin:$PATH"

LOAD_CONNS=${LOAD_CONNS:-256}
LOAD_DURATION=${LOAD_DURATION:-120s}
IDLE_CONNS=${IDLE_CONNS:-10000}
IDLE_HOLD=${IDLE_HOLD:-20s}
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}
LOG_LEVEL=${LOG_LEVEL:-info}
BASE_PORT=${BASE_PORT:-18200}
UPSTREAM_PORT=$BASE_PORT
BARE_PORT=$((BASE_PORT + 1))

# 10,000 connections need as many descriptors in the gateway and in the
# client: raise the soft limit to the hard one for this script's processes.
ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -gt $((IDLE_CONNS + 1000)) ] ||
	{ echo "bench: ulimit -n is $(ulimit -n), too low for $IDLE_CONNS connections" >&2; exit 1; }

# shellcheck source=bench/lib.sh
. bench/lib.sh
go build -o "$bin/idleconns" ./bench/idleconns
gateway G0 $((BASE_PORT + 2)) $((BASE_PORT + 3)) 0s
g=${pid[G0]}
mib() { awk -v k="$(rss_kib "$1")" 'BEGIN { printf "%.1f", k / 1024 }'; }

report=$tmp/report.txt
{
	echo "unigate memory — $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $(nproc) cores, ulimit -n $(ulimit -n)"
	echo "RSS before any load: $(mib "$g") MiB"
} | tee "$report"

say "load: $LOAD_CONNS connections for $LOAD_DURATION"
"$bin/loadgen" -name load -url "http://127.0.0.1:${port[G0]}/" -host "console.localhost:${port[G0]}" \
	-cookie "${cookie[G0]}" -c "$LOAD_CONNS" -d "$LOAD_DURATION" -warmup 0s -n 5000000 -timeout 30s >"$tmp/load.txt" &
lg=$!
pids+=("$lg")
samples=""
at30=""
t=0
while kill -0 "$lg" 2>/dev/null; do
	sleep 10
	t=$((t + 10))
	kill -0 "$lg" 2>/dev/null || break
	m=$(mib "$g")
	samples+="${t}s:${m} "
	[ "$t" = 30 ] && at30=$m
	last=$m
done
wait "$lg" || true
{
	echo "load: $(cat "$tmp/load.txt")"
	echo "RSS (MiB) every 10 s: $samples"
	awk -v a="$at30" -v b="$last" 'BEGIN { if (a > 0) printf "RSS at the end / RSS at 30 s: %.3f (%s / %s MiB)\n", b / a, b, a }'
} | tee -a "$report"

say "idle: $IDLE_CONNS keep-alive connections held for $IDLE_HOLD"
"$bin/idleconns" -url "http://127.0.0.1:${port[G0]}/" -host "console.localhost:${port[G0]}" \
	-cookie "${cookie[G0]}" -n "$IDLE_CONNS" -hold "$IDLE_HOLD" >"$tmp/idle.txt" &
ic=$!
pids+=("$ic")
peak=0
memstats=""
while kill -0 "$ic" 2>/dev/null; do
	k=$(rss_kib "$g")
	[ "$k" -gt "$peak" ] && peak=$k
	if grep -q '^opened=' "$tmp/idle.txt" 2>/dev/null; then
		# All open and held: where the memory is, from the gateway's own Go collector.
		memstats=$(curl -fsS --max-time 2 "http://127.0.0.1:$((BASE_PORT + 3))/metrics" 2>/dev/null |
			awk '/^go_memstats_(stack_inuse|heap_inuse|heap_idle|heap_released|sys)_bytes / { printf "%s=%.0fMiB ", substr($1, 13), $2 / 1048576 } /^go_goroutines / { printf "goroutines=%d ", $2 }')
		held_rss=$k
	fi
	sleep 1
done
wait "$ic" || true
{
	echo "idle: $(tr '\n' ' ' <"$tmp/idle.txt")"
	awk -v k="$peak" 'BEGIN { printf "peak RSS with the idle connections: %.1f MiB\n", k / 1024 }'
	awk -v k="${held_rss:-0}" 'BEGIN { printf "RSS while all are held (last sample): %.1f MiB\n", k / 1024 }'
	echo "Go memory then: $memstats"
	echo "RSS after they closed: $(mib "$g") MiB"
} | tee -a "$report"
mkdir -p bench/results
cp "$report" "bench/results/memory-$(date -u +%Y%m%dT%H%M%SZ).txt"
