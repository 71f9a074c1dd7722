#!/usr/bin/env node
// signin.mjs URL — a person at a browser, for clients that open the
// authorization URL through $BROWSER (mcp-remote does, through xdg-open).
// It loads URL in Chromium, signs in, approves, and follows the redirect
// back to the client. The Go test passes what a person would know in the
// environment:
//
//   M2C_USER, M2C_PASSWORD  the account to sign in with, or
//   M2C_PROVIDER            the identity provider to sign in at instead:
//                           the page's "Sign in with M2C_PROVIDER" link,
//                           whose sign-in the test completes by itself
//   M2C_RESULT              a file to write the outcome to (JSON)
//   M2C_SHOTS               a folder for screenshots (optional)
//
// The opener discards this program's output, so everything the test needs
// goes into M2C_RESULT; on failure too, so the test can say what happened.
// The exit status is 0 even then, as a browser's is once it has started:
// xdg-open runs $BROWSER a second time when it fails.

import { writeFileSync, renameSync } from 'node:fs';
import { launch, shoot } from './chromium.mjs';

const url = process.argv[2];
const { M2C_USER: user, M2C_PASSWORD: password, M2C_PROVIDER: provider, M2C_RESULT: resultPath, M2C_SHOTS: shots } = process.env;

const result = { ok: false, steps: [] };
function save() {
  if (!resultPath) return;
  // Write then rename, so the test never reads half a file.
  writeFileSync(resultPath + '.tmp', JSON.stringify(result, null, 2));
  renameSync(resultPath + '.tmp', resultPath);
}
function step(name, page) {
  const u = new URL(page.url());
  // Origin and path only: the query holds the request, or the code.
  result.steps.push({ name, at: u.origin + u.pathname });
  console.log(`signin: ${name} at ${u.origin}${u.pathname}`);
}

// Never outlive the test.
const deadline = setTimeout(() => {
  result.error = 'gave up after 90 s';
  save();
  process.exit(0); // see above: a failure is reported in M2C_RESULT
}, 90_000);

let browser;
try {
  if (!url || !((user && password) || provider) || !resultPath) {
    throw new Error('usage: M2C_USER=… M2C_PASSWORD=… (or M2C_PROVIDER=…) M2C_RESULT=file signin.mjs URL');
  }
  const start = new URL(url);
  result.authorizationEndpoint = start.origin + start.pathname;
  result.authorizationParams = [...start.searchParams.keys()].sort();
  result.authorizationRequest = Object.fromEntries(
    ['response_type', 'code_challenge_method', 'redirect_uri', 'resource', 'scope'].map((k) => [k, start.searchParams.get(k)]),
  );

  browser = await launch();
  const page = await browser.context.newPage();
  await page.goto(url);
  step('login page', page);
  await shoot(page, shots, 'login');
  if (provider) {
    // To the provider and back (redirects only: the test completes the
    // provider's sign-in itself), to this server's consent page.
    await page.getByRole('link', { name: `Sign in with ${provider}`, exact: true }).click();
  } else {
    await page.getByLabel('User name', { exact: true }).fill(user);
    await page.getByLabel('Password', { exact: true }).fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
  }
  // The consent page, or a page saying what went wrong: fail at once with
  // what it says rather than wait for a button that will not come.
  const allow = page.getByRole('button', { name: 'Allow' });
  await allow.or(page.getByRole('alert')).first().waitFor();
  if (!(await allow.isVisible())) {
    throw new Error(`after signing in, ${new URL(page.url()).pathname} shows: ${await page.locator('main').innerText()}`);
  }
  step('consent page', page);
  result.consentText = await page.locator('main').innerText();
  await shoot(page, shots, 'consent');

  // Allow: the server answers 303 to the client's loopback callback.
  await Promise.all([
    page.waitForURL((u) => u.origin !== start.origin, { waitUntil: 'load' }),
    page.getByRole('button', { name: 'Allow' }).click(),
  ]);
  step('callback', page);
  const back = new URL(page.url());
  result.callback = back.origin + back.pathname;
  result.callbackParams = Object.fromEntries(back.searchParams);
  result.callbackText = await page.locator('body').innerText().catch(() => '');
  await shoot(page, shots, 'callback');
  result.ok = true;
} catch (err) {
  result.error = String(err?.stack || err);
  console.error(err);
} finally {
  save();
  if (browser) await browser.close();
  clearTimeout(deadline);
}
