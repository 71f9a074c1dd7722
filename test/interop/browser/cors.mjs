#!/usr/bin/env node
// cors.mjs CONFIG.json — for TestBrowserCORS: from pages on two other
// origins, one allowed with --allowed-origin and one not, calls the MCP
// endpoint with fetch() as a browser-based MCP client would, and records
// what the page could see. The Go test judges the record.
//
// CONFIG.json: {allowedPage, blockedPage, mcpURL, key, result}

import { readFileSync, writeFileSync } from 'node:fs';
import { launch } from './chromium.mjs';

const cfg = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const record = {};

// calls runs in the page: an unauthenticated initialize (a 401 whose
// challenge the client must read to start OAuth), then tools/list with the
// key and the headers a 2025-11-25 client sends (a preflight first).
const calls = async ({ mcpURL, key }) => {
  const out = {};
  const post = async (headers, body) => {
    try {
      const r = await fetch(mcpURL, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', ...headers },
        body: JSON.stringify(body),
      });
      return { status: r.status, challenge: r.headers.get('WWW-Authenticate'), body: await r.text() };
    } catch (e) {
      return { error: String(e) };
    }
  };
  out.anonymous = await post({}, { jsonrpc: '2.0', id: 1, method: 'tools/list' });
  out.withKey = await post({ 'X-API-KEY': key, 'MCP-Protocol-Version': '2025-11-25' }, { jsonrpc: '2.0', id: 2, method: 'tools/list' });
  return out;
};

const { context, close } = await launch();
try {
  for (const [name, url] of [['allowed', cfg.allowedPage], ['blocked', cfg.blockedPage]]) {
    const page = await context.newPage();
    await page.goto(url);
    record[name] = await page.evaluate(calls, { mcpURL: cfg.mcpURL, key: cfg.key });
    await page.close();
  }
} catch (e) {
  record.error = String(e);
} finally {
  writeFileSync(cfg.result, JSON.stringify(record, null, 2));
  await close();
}
