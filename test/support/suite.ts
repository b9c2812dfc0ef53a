import { mkdtempSync, rmSync } from 'node:fs';
import type { BrowserContext } from 'playwright-core';
import { launchChromium, type HeadlessChromium } from './chromium';
import { startTestFleet, type TestFleet, type TestFleetOptions } from './fleet';

/**
 * One fleet for the whole suite: started in beforeAll, stopped in afterAll.
 * Returns a stand-in that forwards to the running fleet, so suites write
 * `fleet.url` at the top level although the fleet only exists once the hooks ran.
 */
export function useTestFleet(opts?: TestFleetOptions): TestFleet {
  let current: TestFleet | undefined;
  beforeAll(async () => {
    current = await startTestFleet(opts);
  });
  afterAll(async () => {
    await current?.stop();
  });
  return new Proxy({} as TestFleet, {
    get(_target, property) {
      if (!current) throw new Error('the test fleet is used before beforeAll started it');
      const value = Reflect.get(current, property, current);
      return typeof value === 'function' ? value.bind(current) : value;
    },
  });
}

/**
 * A scratch directory for the whole suite: made under `prefix` in beforeAll, removed in afterAll.
 * Returns its path as a function, since the directory only exists once the hooks ran.
 */
export function useScratchDir(prefix: string): () => string {
  let dir: string | undefined;
  beforeAll(() => {
    dir = mkdtempSync(prefix);
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  return () => {
    if (!dir) throw new Error('the scratch directory is used before beforeAll made it');
    return dir;
  };
}

/** The suite's headless Chromium, and what its pages did. */
export interface SuiteChromium {
  readonly context: BrowserContext;
  /** Every URL any page of this browser asked for. */
  readonly requested: string[];
  /** Every uncaught error any page of this browser threw. */
  readonly pageErrors: string[];
}

/** One headless Chromium for the whole suite (launchChromium): launched in beforeAll, closed with its profile in afterAll. */
export function useChromium(): SuiteChromium {
  let browser: HeadlessChromium | undefined;
  const requested: string[] = [];
  const pageErrors: string[] = [];
  beforeAll(async () => {
    browser = await launchChromium();
    browser.context.on('request', (request) => requested.push(request.url()));
    browser.context.on('page', (page) => page.on('pageerror', (err) => pageErrors.push(err.message)));
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
  });
  return {
    get context() {
      if (!browser) throw new Error('the browser is used before beforeAll launched it');
      return browser.context;
    },
    requested,
    pageErrors,
  };
}
