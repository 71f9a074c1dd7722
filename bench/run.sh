#!/usr/bin/env bash
# bench/run.sh: benchmarks mcp-2coffee beside a go-sdk and a TypeScript SDK
# echo server, with `mcp-2coffee bench`, and writes the results.
#
#   bash bench/run.sh                     full: 5 s runs, 2 rounds, 1/16/64 clients; writes docs/BENCHMARKS.md and docs/bench.svg
#   bash bench/run.sh --quick             about 1 s runs, 1 round, 1/16 clients, a subset; writes test-output/BENCHMARKS.quick.md
#   bash bench/run.sh --postgres DSN      also mcp-2coffee on PostgreSQL (default: $MCP_2COFFEE_TEST_POSTGRES)
#
# Needs Go, Node.js and `npm ci` (@modelcontextprotocol/sdk, mcp-remote,
# playwright-core); the full run's OAuth subject signs in with Chromium
# (/usr/bin/chromium, or $CHROMIUM_PATH); PostgreSQL needs psql. Everything
# is built into a temporary directory; every server listens on 127.0.0.1 on
# a port it picks itself; every child is ended on exit. The raw JSON of each
# run goes to test-output/bench/ (or test-output/bench-quick/), with
# index.jsonl naming them. A subject that fails to start, or a run with an
# error, stops the script with a non-zero status.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD

mode=full
postgres=${MCP_2COFFEE_TEST_POSTGRES:-}
while [ $# -gt 0 ]; do
	case $1 in
	--quick) mode=quick ;;
	--postgres)
		[ $# -ge 2 ] || { echo "bench/run.sh: --postgres needs a DSN" >&2; exit 2; }
		postgres=$2
		shift
		;;
	--postgres=*) postgres=${1#--postgres=} ;;
	-h | --help)
		sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*) echo "bench/run.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
	esac
	shift
done

if [ "$mode" = quick ]; then
	duration=1s warmup=300ms rounds=1 concurrencies=(1 16) stdio_runs=3
	results=$ROOT/test-output/bench-quick
	markdown=$ROOT/test-output/BENCHMARKS.quick.md
	svg=$ROOT/test-output/bench.quick.svg
else
	duration=5s warmup=1s rounds=2 concurrencies=(1 16 64) stdio_runs=10
	results=$ROOT/test-output/bench
	markdown=$ROOT/docs/BENCHMARKS.md
	svg=$ROOT/docs/bench.svg
fi

say() {
	printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2
}

die() {
	printf 'bench/run.sh: %s\n' "$*" >&2
	exit 1
}

[ -f node_modules/@modelcontextprotocol/sdk/package.json ] || die "node_modules/@modelcontextprotocol/sdk is missing: run npm ci first"
[ -x node_modules/.bin/mcp-remote ] || die "node_modules/.bin/mcp-remote is missing: run npm ci first"

work=$(mktemp -d "${TMPDIR:-/tmp}/mcp-2coffee-bench.XXXXXX")
pids=()
pg_schema=

# cleanup ends every child started here (by its process id), drops the
# PostgreSQL schema if one was made, and removes the temporary directory.
cleanup() {
	local status=$? pid
	for pid in "${pids[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${pids[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	if [ -n "$pg_schema" ]; then
		psql "$postgres" -qAtc "DROP SCHEMA IF EXISTS $pg_schema CASCADE" >/dev/null 2>&1 ||
			echo "bench/run.sh: could not drop schema $pg_schema" >&2
	fi
	rm -rf "$work"
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

rm -rf "$results"
mkdir -p "$results"
: >"$results/index.jsonl"

say "building into $work"
go build -o "$work/mcp-2coffee" ./cmd/mcp-2coffee
go build -o "$work/echo" ./bench/echo
bin=$work/mcp-2coffee
ts_echo=$ROOT/bench/ts-echo.mjs

# The API key that the keyed subjects send. It goes to the children through
# the environment (bench and connect expand ${BENCH_API_KEY} themselves) and
# to mcp-remote through a 0600 header file, never through an argument list.
export BENCH_API_KEY
BENCH_API_KEY=$("$bin" keys create --database "$work/key.db" --name bench 2>"$work/keys.log" | grep -o 'm2c_[A-Za-z0-9_]*' | head -n1) ||
	die "keys create failed: $(cat "$work/keys.log")"
[ -n "$BENCH_API_KEY" ] || die "keys create printed no key: $(cat "$work/keys.log")"
(umask 077 && printf 'X-API-KEY: %s\n' "$BENCH_API_KEY" >"$work/mcp-remote-headers")

declare -A url pid_of

# start NAME CMD… starts a server whose log (stderr) names its loopback URL,
# waits for that line, then until the server answers tools/list.
start() {
	local name=$1 log=$work/$1.log u="" i
	shift
	"$@" >"$log" 2>&1 &
	pids+=($!)
	pid_of[$name]=$!
	for i in $(seq 1 150); do
		kill -0 "${pid_of[$name]}" 2>/dev/null || die "$name exited while starting; its log:
$(cat "$log")"
		u=$(grep -o 'http://127\.0\.0\.1:[0-9]*/mcp' "$log" | head -n1 || true)
		[ -n "$u" ] && break
		sleep 0.1
	done
	[ -n "$u" ] || die "$name did not report its address within 15 s; its log:
$(cat "$log")"
	for i in $(seq 1 50); do
		if "$bin" call --header 'X-API-KEY: ${BENCH_API_KEY}' "$u" tools/list >/dev/null 2>"$work/$name.ready"; then
			url[$name]=$u
			say "$name is up at $u (pid ${pid_of[$name]})"
			return 0
		fi
		sleep 0.2
	done
	die "$name does not answer tools/list at $u: $(cat "$work/$name.ready")"
}

# Servers. Each mcp-2coffee server has its own SQLite file (the bundled
# sample articles are loaded on first start). They log at info, which is
# startup and shutdown only: the "serving" line names the address.
start srv-none "$bin" serve --auth none --addr 127.0.0.1:0 --database "$work/none.db"
start srv-key "$bin" serve --addr 127.0.0.1:0 --database "$work/key.db" --first-run-secrets "$work/first-run-secrets.txt"
start go-echo "$work/echo" --addr 127.0.0.1:0
start ts-stateless node "$ts_echo" --stateless --port 0
if [ "$mode" = full ]; then
	start ts-stateful node "$ts_echo" --stateful --port 0
	if [ -n "$postgres" ]; then
		command -v psql >/dev/null 2>&1 || die "--postgres needs psql, to create and drop the benchmark's schema"
		case $postgres in
		postgres://* | postgresql://*) ;;
		*) die "--postgres needs a postgres:// URL (a fresh schema is chosen with its search_path)" ;;
		esac
		pg_schema=bench_$(date +%s)_$$
		psql "$postgres" -qAtc "CREATE SCHEMA $pg_schema" >/dev/null
		case $postgres in
		*\?*) pg_dsn="$postgres&search_path=$pg_schema" ;;
		*) pg_dsn="$postgres?search_path=$pg_schema" ;;
		esac
		start srv-pg "$bin" serve --auth none --addr 127.0.0.1:0 --database "$pg_dsn"
	fi
fi

# The OAuth subject's token: the admin signs in once, in Chromium, through
# "mcp-2coffee login" (test/interop/browser/signin.mjs is the person at the
# browser), and bench --oauth sends the token that login cached.
if [ "$mode" = full ]; then
	[ -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ] || die "the OAuth subject signs in with Chromium: install it (apt-get install chromium) or set CHROMIUM_PATH"
	password=$(awk '/password is shown only now/ { getline; getline; print $1; exit }' "$work/first-run-secrets.txt")
	[ -n "$password" ] || die "no admin password in $work/first-run-secrets.txt"
	say "signing in to ${url[srv-key]} in Chromium"
	BROWSER="node $ROOT/test/interop/browser/signin.mjs" M2C_USER=admin M2C_PASSWORD=$password M2C_RESULT=$work/signin.json \
		"$bin" login --config-dir "$work/oauth" "${url[srv-key]}" >"$work/login.log" 2>&1 ||
		die "login failed: $(cat "$work/login.log") $(cat "$work/signin.json" 2>/dev/null)"
	unset password
fi

# HTTP subjects, in table order: id, label, server, tool, arguments, and the
# credential sent: no, yes (the API key) or oauth (the signed-in token).
http_subjects=(
	"m2c|mcp-2coffee get_article (no auth)|srv-none|get_article|{\"slug\":\"channel-trong-go\"}|no"
	"m2c-key|mcp-2coffee get_article (API key)|srv-key|get_article|{\"slug\":\"channel-trong-go\"}|yes"
)
if [ "$mode" = full ]; then
	http_subjects+=("m2c-oauth|mcp-2coffee get_article (OAuth token)|srv-key|get_article|{\"slug\":\"channel-trong-go\"}|oauth")
	http_subjects+=("m2c-search|mcp-2coffee search_articles \"channel\"|srv-none|search_articles|{\"query\":\"channel\"}|no")
	if [ -n "$postgres" ]; then
		http_subjects+=("m2c-pg|mcp-2coffee get_article (PostgreSQL)|srv-pg|get_article|{\"slug\":\"channel-trong-go\"}|no")
	fi
fi
http_subjects+=("go-echo|go-sdk echo (stateless, JSON)|go-echo|echo|{\"text\":\"hello\"}|no")
if [ "$mode" = full ]; then
	http_subjects+=("ts-stateful|TS SDK echo (stateful, JSON)|ts-stateful|echo|{\"text\":\"hello\"}|no")
fi
http_subjects+=("ts-stateless|TS SDK echo (stateless, JSON)|ts-stateless|echo|{\"text\":\"hello\"}|no")

# check FILE fails the script when the run in FILE counted an error or no
# call at all.
check() {
	node -e '
		const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
		if (r.errors > 0 || r.ok === 0) {
			console.error(`bench/run.sh: ${process.argv[2]}: ${r.errors} errors in ${r.requests} calls: ${JSON.stringify(r.error_kinds)} ${JSON.stringify(r.error_examples || {})}`);
			process.exit(1);
		}' "$1" "$2"
}

# index KIND ID LABEL CONCURRENCY ROUND FILE records a run for the report.
index() {
	node -e 'const [kind, id, label, c, round, file] = process.argv.slice(1);
		console.log(JSON.stringify({kind, id, label, concurrency: Number(c), round: Number(round), file}))' "$@" >>"$results/index.jsonl"
}

# bench_http ROUND CONCURRENCY SUBJECT runs one measured HTTP run.
bench_http() {
	local round=$1 c=$2 id label server tool args key file
	IFS='|' read -r id label server tool args key <<<"$3"
	file=http-$id-c$c-r$round.json
	local extra=()
	case $key in
	yes) extra=(--header 'X-API-KEY: ${BENCH_API_KEY}') ;;
	oauth) extra=(--oauth --config-dir "$work/oauth") ;;
	esac
	say "round $round, $c clients: $label"
	"$bin" bench "${url[$server]}" --tool "$tool" --arguments "$args" "${extra[@]}" \
		--concurrency "$c" --duration "$duration" --warmup "$warmup" --json --pid "${pid_of[$server]}" \
		>"$results/$file" 2>"$results/$file.stderr" ||
		die "$label ($c clients) failed: $(cat "$results/$file.stderr") $(cat "$results/$file")"
	check "$results/$file" "$label ($c clients)"
	index http "$id" "$label" "$c" "$round" "$file"
}

# Stdio subjects: id, label, tool, arguments, then the command (words
# separated by |). The mcp-2coffee stdio database is made by one spawn first.
"$bin" call tools/list -- "$bin" stdio --database "$work/stdio.db" --log-level warn >/dev/null 2>"$work/stdio-init.log" ||
	die "mcp-2coffee stdio did not start: $(cat "$work/stdio-init.log")"
stdio_subjects=(
	"m2c-stdio|mcp-2coffee stdio|get_article|{\"slug\":\"channel-trong-go\"}|$bin|stdio|--database|$work/stdio.db|--log-level|warn"
)
if [ "$mode" = full ]; then
	mkdir -p "$work/home"
	stdio_subjects+=(
		"go-echo-stdio|go-sdk echo stdio|echo|{\"text\":\"hello\"}|$work/echo|--stdio"
		"ts-stdio|TS SDK echo stdio|echo|{\"text\":\"hello\"}|node|$ts_echo|--stdio"
		"m2c-connect|mcp-2coffee connect → serve (API key)|get_article|{\"slug\":\"channel-trong-go\"}|$bin|connect|${url[srv-key]}|--header|X-API-KEY: \${BENCH_API_KEY}|--config-dir|$work/home/m2c"
		"mcp-remote|mcp-remote → serve (API key)|get_article|{\"slug\":\"channel-trong-go\"}|env|HOME=$work/home|MCP_REMOTE_CONFIG_DIR=$work/home/mcp-remote|$ROOT/node_modules/.bin/mcp-remote|${url[srv-key]}|--header-file|$work/mcp-remote-headers"
	)
fi

# bench_stdio ROUND SUBJECT spawns the subject's command --runs times.
bench_stdio() {
	local round=$1 id label tool args rest file
	IFS='|' read -r id label tool args rest <<<"$2"
	local cmd=()
	IFS='|' read -r -a cmd <<<"$rest"
	file=stdio-$id-r$round.json
	say "round $round, stdio: $label"
	"$bin" bench --stdio --tool "$tool" --arguments "$args" --runs "$stdio_runs" \
		--duration "$duration" --warmup "$warmup" --json -- "${cmd[@]}" \
		>"$results/$file" 2>"$results/$file.stderr" ||
		die "$label failed: $(cat "$results/$file.stderr") $(cat "$results/$file")"
	check "$results/$file" "$label"
	index stdio "$id" "$label" 1 "$round" "$file"
}

# The runs alternate subjects (A B C … A B C …), so that a slow spell of the
# machine is spread over all of them rather than falling on one.
for round in $(seq 1 "$rounds"); do
	for c in "${concurrencies[@]}"; do
		for s in "${http_subjects[@]}"; do
			bench_http "$round" "$c" "$s"
		done
	done
	for s in "${stdio_subjects[@]}"; do
		bench_stdio "$round" "$s"
	done
done

say "writing $markdown and $svg"
svg_link=bench.svg
[ "$mode" = quick ] && svg_link=bench.quick.svg
node bench/report.mjs --results "$results" --markdown "$markdown" --svg "$svg" --svg-link "$svg_link" \
	--mode "$mode" --baseline go-echo --chart-concurrency 16 \
	--duration "$duration" --warmup "$warmup" --rounds "$rounds" --stdio-runs "$stdio_runs" \
	--go-version "$(go version)" --node-version "$(node --version)" \
	--sdk-version "$(node -p 'require("./node_modules/@modelcontextprotocol/sdk/package.json").version')" \
	--mcp-remote-version "$(node -p 'require("./node_modules/mcp-remote/package.json").version')"
say "done in ${SECONDS}s; raw results in $results"
