#!/usr/bin/env node
// login-consent.mjs CONFIG.json — walks the authorization server's pages in
// Chromium as a person would, for TestBrowserLoginConsent: a wrong password,
// the right one, consent with Allow; a second application denied; the first
// one again (remembered, but its redirect is loopback, so the consent page
// comes back, already signed in, and one click approves); the
// connected-apps page. It
// records what each page showed and screenshots it at a phone and a desktop
// size. The Go test prepared the requests and judges the record; this script
// fails (exit 1) only when a page does not let it go on.
//
// CONFIG.json: {user, password, wrongPassword, allowURL, denyURL, againURL,
// appsURL, redirectOrigin, shots, result}

import { readFileSync, writeFileSync } from 'node:fs';
import { launch, shoot } from './chromium.mjs';

const cfg = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const record = { console: [], overflow: {} };
const save = () => writeFileSync(cfg.result, JSON.stringify(record, null, 2));
const serverOrigin = new URL(cfg.allowURL).origin;

// pathOf drops the query: it carries the request or, on the way back, the
// code, and the record is printed when the test fails.
const pathOf = (u) => {
  const x = new URL(u);
  return x.origin + x.pathname;
};

const securityHeaders = (resp) => {
  const h = resp.headers();
  return {
    csp: h['content-security-policy'] ?? '',
    xFrameOptions: h['x-frame-options'] ?? '',
    cacheControl: h['cache-control'] ?? '',
    referrerPolicy: h['referrer-policy'] ?? '',
    contentType: h['content-type'] ?? '',
  };
};

// describe records what a page shows a person, and what assistive
// technology relies on.
async function describe(page) {
  return {
    url: pathOf(page.url()),
    title: await page.title(),
    lang: await page.locator('html').getAttribute('lang'),
    headings: await page.getByRole('heading', { level: 1 }).allInnerTexts(),
    text: await page.locator('main').innerText(),
    alerts: await page.getByRole('alert').allInnerTexts(),
  };
}

async function shot(page, name) {
  record.overflow[name] = await shoot(page, cfg.shots, name);
}

// submit clicks a button whose form posts to path and returns the response
// to that POST (before any redirect it answers with).
async function submit(page, button, path) {
  const [resp] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === path),
    button.click(),
  ]);
  return resp;
}

let browser;
try {
  browser = await launch();
  const page = await browser.context.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') {
      record.console.push({ type: m.type(), text: m.text(), page: pathOf(page.url()), resource: m.location()?.url ?? '' });
    }
  });
  page.on('pageerror', (e) => record.console.push({ type: 'pageerror', text: String(e), page: pathOf(page.url()) }));

  // 1. The authorization request, not signed in: the login page.
  let resp = await page.goto(cfg.allowURL);
  record.login = { status: resp.status(), headers: securityHeaders(resp), ...(await describe(page)) };
  const username = page.getByLabel('User name', { exact: true });
  const password = page.getByLabel('Password', { exact: true });
  record.login.fields = {
    username: { name: await username.getAttribute('name'), type: await username.getAttribute('type'), autocomplete: await username.getAttribute('autocomplete') },
    password: { name: await password.getAttribute('name'), type: await password.getAttribute('type'), autocomplete: await password.getAttribute('autocomplete') },
  };
  record.login.focused = await page.evaluate(() => document.activeElement?.id ?? '');
  record.login.styled = await page.evaluate(() => document.styleSheets.length > 0 && document.styleSheets[0].cssRules.length > 0);
  await shot(page, 'login');

  // 2. A wrong password: an error, still the login page.
  await username.fill(cfg.user);
  await password.fill(cfg.wrongPassword);
  resp = await submit(page, page.getByRole('button', { name: 'Sign in' }), '/oauth/login');
  await page.getByRole('alert').waitFor();
  if ((await username.count()) === 0) {
    throw new Error(`after a wrong password (${resp.status()}), ${new URL(page.url()).pathname} shows: ${await page.locator('main').innerText()}`);
  }
  record.loginError = {
    status: resp.status(),
    ...(await describe(page)),
    usernameValue: await username.inputValue(),
    passwordValue: await password.inputValue(),
    signInButton: await page.getByRole('button', { name: 'Sign in' }).count(),
  };
  await shot(page, 'login-error');

  // 3. The right password: the consent page.
  await username.fill(cfg.user);
  await password.fill(cfg.password);
  const consentLoaded = page.waitForResponse((r) => r.request().method() === 'GET' && new URL(r.url()).pathname === '/oauth/authorize');
  resp = await submit(page, page.getByRole('button', { name: 'Sign in' }), '/oauth/login');
  const location = resp.headers()['location'];
  record.signIn = { status: resp.status(), location: location ? pathOf(new URL(location, serverOrigin).href) : '' };
  const allowButton = page.getByRole('button', { name: 'Allow' });
  await allowButton.or(page.getByRole('alert')).first().waitFor();
  if (!(await allowButton.isVisible())) {
    throw new Error(`after signing in (${resp.status()}), ${new URL(page.url()).pathname} shows: ${await page.locator('main').innerText()}`);
  }
  const consentResp = await consentLoaded;
  record.consent = {
    status: consentResp.status(),
    headers: securityHeaders(consentResp),
    ...(await describe(page)),
    buttons: await page.locator('form.decision button').allInnerTexts(),
  };
  await shot(page, 'consent');

  // 4. Allow: back to the application with a code.
  resp = await submit(page, page.getByRole('button', { name: 'Allow' }), '/oauth/authorize');
  record.allow = { status: resp.status(), location: pathOf(resp.headers()['location'] ?? serverOrigin) };
  await page.waitForURL((u) => u.origin === cfg.redirectOrigin, { waitUntil: 'load' });
  record.allow.landed = pathOf(page.url());
  record.allow.text = await page.locator('body').innerText();
  await shot(page, 'allowed');

  // 5. Another application, same session: consent at once; Deny.
  await page.goto(cfg.denyURL);
  await page.getByRole('button', { name: 'Deny' }).waitFor();
  record.deny = { ...(await describe(page)), passwordFields: await page.locator('input[type=password]').count() };
  await shot(page, 'consent-deny');
  resp = await submit(page, page.getByRole('button', { name: 'Deny' }), '/oauth/authorize');
  record.deny.status = resp.status();
  await page.waitForURL((u) => u.origin === cfg.redirectOrigin, { waitUntil: 'load' });
  record.deny.landed = pathOf(page.url());
  await shot(page, 'denied');

  // 6. The first application again: remembered, but a loopback redirect
  // does not assure who is asking, so consent is shown (no sign-in).
  const hops = [];
  const onRequest = (r) => {
    if (r.isNavigationRequest()) hops.push(pathOf(r.url()));
  };
  page.on('request', onRequest);
  await page.goto(cfg.againURL);
  const allowAgain = page.getByRole('button', { name: 'Allow' });
  const consentAgain = (await allowAgain.count()) > 0;
  if (consentAgain) {
    await shot(page, 'consent-again');
    await submit(page, allowAgain, '/oauth/authorize');
  }
  await page.waitForURL((u) => u.origin === cfg.redirectOrigin, { waitUntil: 'load' });
  page.off('request', onRequest);
  record.again = { landed: pathOf(page.url()), hops, consent: consentAgain };

  // 7. The connected-apps page lists the approved application.
  resp = await page.goto(cfg.appsURL);
  record.apps = { status: resp.status(), headers: securityHeaders(resp), ...(await describe(page)) };
  await shot(page, 'apps');
} catch (err) {
  record.error = String(err?.stack || err);
  console.error(err);
  process.exitCode = 1;
} finally {
  save();
  if (browser) await browser.close();
}
