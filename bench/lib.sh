# Shared by bench/proxy.sh and bench/memory.sh (sourced, not run): the
# temp dir and its cleanup, the build, the upstream and bare proxy, and
# gateway(), which starts one logged-in unigate. Expects REDIS_URL,
# LOG_LEVEL, BASE_PORT, UPSTREAM_PORT, BARE_PORT to be set.

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
for ((p = BASE_PORT; p < BASE_PORT + 8; p++)); do port_free "$p" || die "127.0.0.1:$p is in use (set BASE_PORT)"; done

UPSTREAM_URL="http://127.0.0.1:$UPSTREAM_PORT"
start upstream "$bin/upstream" -listen "127.0.0.1:$UPSTREAM_PORT"
wait_ready upstream "$last_pid" "$UPSTREAM_URL/_bench/stats" || die "the bench upstream did not start"
start bareproxy "$bin/bareproxy" -listen "127.0.0.1:$BARE_PORT" -upstream "$UPSTREAM_URL"
wait_ready bareproxy "$last_pid" "http://127.0.0.1:$BARE_PORT/" || die "the bare proxy did not start"
"$bin/unigate" keys generate --dir "$tmp/keys" >/dev/null 2>&1 || die "unigate keys generate failed"

# gateway NAME PORT METRICS_PORT LOCAL_CACHE [LOG_LEVEL] [TRACKING_CACHE]:
# config, account, serve, login, handoff; sets cookie[NAME], port[NAME] and
# pid[NAME].
declare -A cookie port pid
gateway() {
	local name=$1 gport=$2 mport=$3 cache=$4 level=${5:-$LOG_LEVEL} tracking=${6:-false} dir=$tmp/$1 code body redirect jar
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
		  tracking_cache: $tracking
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
		  level: $level
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
	say "$name (local_cache $cache, tracking_cache $tracking, log level $level) on 127.0.0.1:$gport, logged in"
}
