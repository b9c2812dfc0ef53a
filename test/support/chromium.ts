import { mkdtempSync, rmSync } from 'node:fs';
import { chromium, type BrowserContext } from 'playwright-core';

const CHROMIUM = '/usr/bin/chromium';
/** Headless on a server: no display, no GPU, no sandbox (the tests run as root), no first-run pages. */
const HEADLESS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'];
/** No network of its own (QUIC, updates, sync): every request it makes is one a page asked for. */
const QUIET = ['--disable-quic', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export interface HeadlessChromium {
  context: BrowserContext;
  /** Closes the browser and removes its profile. */
  close(): Promise<void>;
}

/** The machine's Chromium on a fresh profile, removed again by close(). */
export async function launchChromium(): Promise<HeadlessChromium> {
  const userDataDir = mkdtempSync('/tmp/flt-chromium-');
  const removeProfile = () => rmSync(userDataDir, { recursive: true, force: true });
  try {
    // launchPersistentContext: Playwright takes the profile dir itself (it refuses --user-data-dir in args).
    const context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: [...HEADLESS, ...QUIET],
      viewport: { width: 1440, height: 900 },
    });
    return {
      context,
      async close() {
        await context.close();
        removeProfile();
      },
    };
  } catch (err) {
    removeProfile();
    throw err;
  }
}
