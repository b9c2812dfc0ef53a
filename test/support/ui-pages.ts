import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';

/** Where the UI suites leave their screenshots (git-ignored), to be looked at. */
export const UI_ARTIFACTS = path.join(__dirname, '..', 'artifacts');

/** A new page of the dashboard at `url`, signed in with `key` through its form, then at `#hash`. */
export async function signedInPage(
  context: BrowserContext,
  url: string,
  key: string,
  hash: string,
  viewport?: { width: number; height: number },
): Promise<Page> {
  const page = await context.newPage();
  if (viewport) await page.setViewportSize(viewport);
  await page.goto(`${url}/ui/`, { waitUntil: 'load', timeout: 60_000 });
  await page.getByLabel('API key').fill(key);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByTestId('identity').waitFor({ timeout: 30_000 });
  await page.goto(`${url}/ui/#${hash}`);
  return page;
}

/** The whole page as `test/artifacts/ui-<name>.png`. */
export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(UI_ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(UI_ARTIFACTS, `ui-${name}.png`), fullPage: true });
}
