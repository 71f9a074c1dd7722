#!/bin/sh
# conformance-client.sh URL — the client under test for the official MCP
# conformance suite (`conformance client --command ".../conformance-client.sh"`
# appends the server URL). It runs `mcp-2coffee call` ($MCP_2COFFEE_BIN) with
# a throw-away token cache, a "browser" that follows the authorization
# server's redirect to the loopback callback (the suite's authorization
# server approves at once), the pre-registered client from
# $MCP_CONFORMANCE_CONTEXT when a scenario provides one, and the Client ID
# Metadata Document URL the suite expects. With MCP_2COFFEE_VIA_CONNECT=1 the
# call goes through a child `mcp-2coffee connect URL`, so that the bridge runs
# the OAuth flow.
set -u
url="$1"
bin="${MCP_2COFFEE_BIN:?set MCP_2COFFEE_BIN to the mcp-2coffee binary}"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

set -- --config-dir "$dir" --client-metadata-url https://conformance-test.local/client-metadata.json --auth-timeout 20s
if [ -n "${MCP_CONFORMANCE_CONTEXT:-}" ]; then
	field() {
		node -e 'const c = JSON.parse(process.env.MCP_CONFORMANCE_CONTEXT); process.stdout.write(String(c[process.argv[1]] ?? ""))' "$1"
	}
	id=$(field client_id)
	secret=$(field client_secret)
	[ -n "$id" ] && set -- "$@" --client-id "$id"
	[ -n "$secret" ] && set -- "$@" --client-secret "$secret"
	# private_key_jwt: the scenario's key, in a file only we can read.
	if [ -n "$(field private_key_pem)" ]; then
		(umask 077 && field private_key_pem >"$dir/client-key.pem")
		set -- "$@" --client-key-file "$dir/client-key.pem"
	fi
fi

case "${MCP_CONFORMANCE_SCENARIO:-}" in
auth/enterprise-managed-authorization)
	# Enterprise-managed authorization: the user's ID token (the
	# context's, in a file only we can read) is exchanged at the
	# scenario's identity provider for an ID-JAG, which the context's
	# client presents to the authorization server; no browser.
	(umask 077 && field idp_id_token >"$dir/id-token")
	set -- "$@" --grant jwt-bearer --id-token-file "$dir/id-token" --idp-issuer "$(field idp_issuer)" --idp-client-id "$(field idp_client_id)"
	method="tools/call test-tool"
	;;
auth/client-credentials-*)
	# The machine-client extension: the context's client gets its own
	# token, with no browser.
	set -- "$@" --grant client_credentials
	method="tools/call test-tool"
	;;
tools_call) method="tools/call add_numbers a=5 b=3" ;;
sse-retry) method="tools/call test_reconnection" ;;
elicitation-*) method="tools/call test_client_elicitation_defaults"; elicit="--elicit defaults" ;;
auth/*) method="tools/call test-tool" ;;
*) method="tools/list" ;;
esac

export BROWSER="curl -fsSL -o /dev/null"
# $method and $elicit are word-split on purpose: they hold no spaces of their own.
# shellcheck disable=SC2086
if [ "${MCP_2COFFEE_VIA_CONNECT:-}" = 1 ]; then
	exec "$bin" call ${elicit:-} $method -- "$bin" connect "$@" "$url"
fi
exec "$bin" call "$@" ${elicit:-} "$url" $method
