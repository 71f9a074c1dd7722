// Shared by the browser scripts of the interop tests: start Debian's
// Chromium through playwright-core (which downloads no browser), in a fresh
// profile, so that no earlier cookie, cache or setting can help a test pass.

import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

// The Chromium flags the tests run with. --host-resolver-rules makes every
// host name but localhost unresolvable, so that nothing the browser might
// try on its own (updates, safe browsing, suggestions) can leave this
// machine. The servers under test listen on 127.0.0.1 (reached as such, or
// as localhost).
export const chromiumArgs = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--no-first-run',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
  '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1',
];

export const viewports = {
  phone: { width: 390, height: 844 },
  desktop: { width: 1280, height: 800 },
};

// launch starts Chromium with a new profile directory and returns the
// browser context and a close function that also removes the profile.
export async function launch({ viewport = viewports.phone } = {}) {
  const executablePath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
  const profile = mkdtempSync(join(tmpdir(), 'm2c-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    args: chromiumArgs,
    viewport,
    locale: 'en-US',
    timeout: 60_000,
  });
  context.setDefaultTimeout(20_000);
  context.setDefaultNavigationTimeout(20_000);
  const close = async () => {
    await context.close().catch(() => {});
    rmSync(profile, { recursive: true, force: true });
  };
  return { context, close };
}

// shoot saves a full-page screenshot of page as dir/name-<viewport>.png for
// every viewport (none when dir is empty), then restores the first one. It returns, per viewport,
// whether the page is wider than the window (it should never be: a phone
// would have to scroll sideways).
export async function shoot(page, dir, name) {
  if (dir) mkdirSync(dir, { recursive: true });
  const overflow = {};
  const names = Object.keys(viewports);
  for (const v of names) {
    await page.setViewportSize(viewports[v]);
    overflow[v] = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
    if (dir) await page.screenshot({ path: join(dir, `${name}-${v}.png`), fullPage: true });
  }
  await page.setViewportSize(viewports[names[0]]);
  return overflow;
}
