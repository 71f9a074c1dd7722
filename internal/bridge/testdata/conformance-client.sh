#!/bin/sh
# conformance-client.sh URL — the client command for the official MCP
# conformance suite (`conformance client --command ".../conformance-client.sh"`,
# which appends the server URL). It runs the bridge's one-shot client
# ($MCP_BRIDGE_BIN, default mcp-bridge; the real CLI is `mcp-2coffee call`)
# with a throw-away token cache, a "browser" that follows the authorization
# server's redirect to the loopback callback, the pre-registered client from
# $MCP_CONFORMANCE_CONTEXT when the scenario provides one, and the Client ID
# Metadata Document URL the suite expects.
set -u
url="$1"
bin="${MCP_BRIDGE_BIN:-mcp-bridge}"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

set --
if [ -n "${MCP_CONFORMANCE_CONTEXT:-}" ]; then
	field() {
		node -e 'const c = JSON.parse(process.env.MCP_CONFORMANCE_CONTEXT); process.stdout.write(String(c[process.argv[1]] ?? ""))' "$1"
	}
	id=$(field client_id)
	secret=$(field client_secret)
	[ -n "$id" ] && set -- "$@" -client-id "$id"
	[ -n "$secret" ] && set -- "$@" -client-secret "$secret"
fi

# With MCP_BRIDGE_VIA_CONNECT=1 the one-shot client talks to a child
# `mcp-bridge connect URL` over stdio instead, so that the relay runs the
# OAuth flow.
target="$url"
if [ "${MCP_BRIDGE_VIA_CONNECT:-}" = 1 ]; then
	target="-- $bin -config-dir $dir -client-metadata-url https://conformance-test.local/client-metadata.json -auth-timeout 20s $* connect $url --"
	set --
fi

case "${MCP_CONFORMANCE_SCENARIO:-}" in
tools_call) method="tools/call add_numbers a=5 b=3" ;;
sse-retry) method="tools/call test_reconnection" ;;
elicitation-*) set -- "$@" -elicit defaults; method="tools/call test_client_elicitation_defaults" ;;
auth/*) method="tools/call test-tool" ;;
*) method="tools/list" ;;
esac

# $target and $method are word-split on purpose: they hold no spaces of
# their own.
# shellcheck disable=SC2086
BROWSER="curl -fsSL -o /dev/null" "$bin" -config-dir "$dir" \
	-client-metadata-url https://conformance-test.local/client-metadata.json \
	-auth-timeout 20s "$@" call $target $method
