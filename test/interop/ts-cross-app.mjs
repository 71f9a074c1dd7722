// ts-cross-app.mjs URL — the TypeScript SDK's client (@modelcontextprotocol/client)
// with its CrossAppAccessProvider (enterprise-managed authorization): it
// exchanges $ID_TOKEN at the identity provider $IDP_ISSUER for an ID-JAG
// (authenticated as $IDP_CLIENT_ID / $IDP_CLIENT_SECRET), presents it to the
// MCP server's authorization server (expected to be $ISSUER) as $CLIENT_ID /
// $CLIENT_SECRET, then calls the tool $TOOL with the JSON arguments $ARGS and
// prints the result as JSON on stdout.
import {
  Client,
  CrossAppAccessProvider,
  StreamableHTTPClientTransport,
  discoverAndRequestJwtAuthGrant,
} from '@modelcontextprotocol/client';

const url = process.argv[2];
const env = process.env;
const provider = new CrossAppAccessProvider({
  assertion: async (ctx) => {
    const grant = await discoverAndRequestJwtAuthGrant({
      idpUrl: env.IDP_ISSUER,
      audience: ctx.authorizationServerUrl,
      resource: ctx.resourceUrl,
      idToken: env.ID_TOKEN,
      clientId: env.IDP_CLIENT_ID,
      clientSecret: env.IDP_CLIENT_SECRET,
      scope: ctx.scope,
      fetchFn: ctx.fetchFn,
    });
    return grant.jwtAuthGrant;
  },
  clientId: env.CLIENT_ID,
  clientSecret: env.CLIENT_SECRET,
  expectedIssuer: env.ISSUER,
});
const client = new Client({ name: 'ts-cross-app', version: '1.0.0' });
try {
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { authProvider: provider }));
  const result = await client.callTool({ name: env.TOOL, arguments: JSON.parse(env.ARGS || '{}') });
  process.stdout.write(JSON.stringify(result) + '\n');
  await client.close();
} catch (err) {
  process.stderr.write(`ts-cross-app: ${err?.stack ?? err}\n`);
  process.exit(1);
}
