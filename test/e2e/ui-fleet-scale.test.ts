/**
 * The dashboard's fleet view with a few hundred agents (issue 21): the 3-engine fleet plus 325 hosts
 * whose records the test writes into the agents bucket as the broker would hold them (300 accepted,
 * 10 of those drained; 20 accepted and never heard, so offline; 5 pending). The view pages from the
 * API, counts by state, filters by target, and never draws more than a page of rows.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { CDPSession, Page } from 'playwright-core';
import { AGENTS_BUCKET, DRAINS_BUCKET, type AgentRecord } from '@fleet/contracts/protocol';
import { api } from '../support/http';
import { connectToFleetNats } from '../support/nats';
import { useChromium, useTestFleet } from '../support/suite';

jest.setTimeout(300_000);
const ARTIFACTS = path.join(__dirname, '..', 'artifacts');
const WAIT = { timeout: 30_000 };
// The written records are never refreshed: a TTL longer than the suite keeps them live.
const fleet = useTestFleet({ gatewayEnv: { FLEET_AGENT_TTL_MS: '600000' } });
const browser = useChromium();
const ROLES = ['web', 'db', 'cache'];
const live = Array.from({ length: 300 }, (_, i) => `sim-${String(i).padStart(3, '0')}`);
const offline = Array.from({ length: 20 }, (_, i) => `off-${String(i).padStart(2, '0')}`);
const pending = Array.from({ length: 5 }, (_, i) => `new-${String(i).padStart(2, '0')}`);
const drained = live.slice(0, 10);
const labelsOf = (i: number) => ({ role: ROLES[i % ROLES.length], zone: i % 2 ? 'eu.west' : 'us.east' });
let nc: NatsConnection;

function recordOf(hostname: string, labels: Record<string, string>): AgentRecord {
  return {
    hostname,
    labels,
    agent_version: '0.1.0',
    build: 'ui-test',
    engine_version: '20.10.24',
    engine: { healthy: true },
    started_at: new Date().toISOString(),
  };
}

async function inBatches<T>(items: T[], each: (item: T, index: number) => Promise<unknown>): Promise<void> {
  for (let from = 0; from < items.length; from += 20)
    await Promise.all(items.slice(from, from + 20).map((item, i) => each(item, from + i)));
}

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  nc = await connectToFleetNats(fleet.state);
  const agents = await new Kvm(nc).open(AGENTS_BUCKET);
  const accept = async (hostname: string, i: number) =>
    expect((await api(fleet, 'POST', `/agent/${hostname}/accept`, { body: { labels: labelsOf(i) } })).status).toBe(200);
  await inBatches([...live, ...offline], accept);
  await inBatches([...live, ...pending], (hostname, i) => agents.put(hostname, JSON.stringify(recordOf(hostname, labelsOf(i)))));
  await inBatches(drained, async (hostname) => expect((await api(fleet, 'POST', `/agent/${hostname}/drain`)).status).toBe(200));
  expect((await api(fleet, 'GET', '/agent?limit=1&state=all')).body).toMatchObject({ total: 328, pending: 5 });
});

afterAll(async () => {
  await nc?.close();
});

/** The fleet view, signed in; `before` runs on the blank page first (a probe that must see the dashboard's script load). */
async function fleetPage(before?: (page: Page) => Promise<void>): Promise<Page> {
  const page = await browser.context.newPage();
  await before?.(page);
  await page.setViewportSize({ width: 1400, height: 900 });
  await page.goto(`${fleet.url}/ui/`, { waitUntil: 'load', timeout: 60_000 });
  await page.getByLabel('API key').fill(fleet.adminKey);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('[data-view=fleet] .feed.live').waitFor(WAIT);
  return page;
}

const shot = (page: Page, name: string) => page.screenshot({ path: path.join(ARTIFACTS, `ui-${name}.png`), fullPage: true });
const rowHosts = (page: Page) =>
  page.locator('[data-view=fleet] tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-host')));
const pager = (page: Page) => page.getByTestId('fleet-pager').locator('span').innerText();

it('shows the fleet size, the counts by state and one page of 50 rows, in hostname order', async () => {
  const page = await fleetPage();
  await page.locator('[data-view=fleet] h2', { hasText: 'Fleet · 328 agents' }).waitFor(WAIT);
  expect(await page.locator('[data-view=fleet] h2 .badge.pending').innerText()).toBe('5 pending');
  const tabs = await page.locator('.state-tab').allInnerTexts();
  expect(tabs).toEqual(['Live 308', 'Online 298', 'Drained 10', 'Offline 20', 'All 328']);
  const hosts = await rowHosts(page);
  const everyLive = ['db-01', ...pending, ...live, 'web-01', 'web-02'].sort();
  expect(hosts).toEqual(everyLive.slice(0, 50));
  expect(await pager(page)).toBe('1–50 of 308');
  await shot(page, 'fleet-scale-first-page');
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByTestId('fleet-pager').locator('span', { hasText: '51–100 of 308' }).waitFor(WAIT);
  expect(await rowHosts(page)).toEqual(everyLive.slice(50, 100));
  await page.getByRole('button', { name: 'Previous' }).click();
  await page.getByTestId('fleet-pager').locator('span', { hasText: '1–50 of 308' }).waitFor(WAIT);
  await page.close();
});

it('filters by a label selector: only those hosts, counted and paged', async () => {
  const page = await fleetPage();
  const box = page.getByLabel('Filter');
  await box.fill('role:db,zone:eu.west');
  await box.press('Enter');
  const wanted = live.filter((_, i) => labelsOf(i).role === 'db' && labelsOf(i).zone === 'eu.west');
  const drainedWanted = wanted.filter((hostname) => drained.includes(hostname)).length;
  await page
    .getByTestId('fleet-pager')
    .locator('span', { hasText: `of ${wanted.length + 1}` })
    .waitFor(WAIT);
  expect(await rowHosts(page)).toEqual(['db-01', ...wanted].sort().slice(0, 50));
  expect(await page.locator('.state-tab.drained').innerText()).toBe(`Drained ${drainedWanted}`);
  await shot(page, 'fleet-scale-filtered');
  await box.fill('role:db,,');
  await box.press('Enter');
  await page.locator('[data-view=fleet] [role=alert]', { hasText: 'role:db,,' }).waitFor(WAIT);
  await page.close();
});

it('the Offline tab lists the accepted hosts not heard from, marked offline', async () => {
  const page = await fleetPage();
  await page.locator('.state-tab.offline').click();
  await page.getByTestId('fleet-pager').locator('span', { hasText: '1–20 of 20' }).waitFor(WAIT);
  expect(await rowHosts(page)).toEqual(offline);
  expect(await page.locator('[data-view=fleet] tbody .badge.offline').count()).toBe(20);
  await shot(page, 'fleet-scale-offline');
  await page.close();
});

it('keeps what is typed in Filter while the view re-renders each second, until Enter applies it', async () => {
  const page = await fleetPage();
  const box = page.getByLabel('Filter');
  await box.fill('role:db');
  // The "Heard" ages are re-rendered every second: once db-01's changes, the view has re-rendered since the text was typed.
  const heard = page.locator('[data-view=fleet] tr[data-host=db-01] td').nth(4);
  const before = await heard.innerText();
  await page.waitForFunction(
    (before) => document.querySelectorAll('[data-view=fleet] tr[data-host=db-01] td')[4]?.textContent !== before,
    before,
    WAIT,
  );
  expect(await box.inputValue()).toBe('role:db');
  await box.press('Enter');
  const dbHosts = live.filter((_, i) => labelsOf(i).role === 'db').length + 1;
  await page
    .getByTestId('fleet-pager')
    .locator('span', { hasText: `1–50 of ${dbHosts}` })
    .waitFor(WAIT);
  await page.close();
});

it('names the fleet in the heading and a filter’s matches apart from it, in the singular for one', async () => {
  const page = await fleetPage();
  const box = page.getByLabel('Filter');
  await box.fill('role:db');
  await box.press('Enter');
  // Offline hosts were accepted after the live ones, with the labels of their place in that list.
  const dbOffline = offline.filter((_, j) => labelsOf(live.length + j).role === 'db').length;
  const dbHosts = live.filter((_, i) => labelsOf(i).role === 'db').length + dbOffline + 1;
  await page
    .getByTestId('fleet-matching')
    .filter({ hasText: `${dbHosts} of 328 agents match role:db` })
    .waitFor(WAIT);
  expect(await page.locator('[data-view=fleet] h2').innerText()).toMatch(/^Fleet · 328 agents/);
  await shot(page, 'fleet-scale-matching');
  await box.fill('sim-007');
  await box.press('Enter');
  await page.getByTestId('fleet-matching').filter({ hasText: '1 of 328 agents matches sim-007' }).waitFor(WAIT);
  expect(await page.locator('[data-view=fleet] h2').innerText()).toMatch(/^Fleet · 328 agents/);
  await page.close();
});

it('says under Heard why an idle agent is heard every 24–30 s: it writes its record on a change or at its refresh', async () => {
  const page = await fleetPage();
  const heard = page.locator('[data-view=fleet] th span', { hasText: 'Heard' });
  expect(await heard.getAttribute('title')).toMatch(/at once on a change, else every 24–30 s \(FLEET_AGENT_REFRESH_MS/);
  await page.close();
});

it('says the Containers column is not counted above 200 hosts and how to count it; a narrower filter counts', async () => {
  const page = await fleetPage();
  await page.getByTestId('counts-note').filter({ hasText: 'not counted above 200 hosts: filter to 200 or fewer' }).waitFor(WAIT);
  expect(await page.getByTestId('counts-db-01').innerText()).toBe('not counted');
  const box = page.getByLabel('Filter');
  // One host of an engine: the listing that counts is answered at once (the written hosts have no agent to answer).
  await box.fill('db-01');
  await box.press('Enter');
  await page.getByTestId('counts-db-01').filter({ hasText: 'running' }).waitFor(WAIT);
  expect(await page.getByTestId('counts-note').count()).toBe(0);
  await page.close();
});

it('pages to Last, back by Previous, to First, and to a page typed in, with the cursor paging between', async () => {
  const page = await fleetPage();
  const everyLive = ['db-01', ...pending, ...live, 'web-01', 'web-02'].sort();
  const shows = async (text: string, hosts: string[]) => {
    await page.getByTestId('fleet-pager').locator('span', { hasText: text }).waitFor(WAIT);
    expect(await rowHosts(page)).toEqual(hosts);
  };
  await page.getByRole('button', { name: 'Last' }).click();
  await shows('301–308 of 308', everyLive.slice(300));
  expect(await page.getByRole('button', { name: 'Next' }).isDisabled()).toBe(true);
  expect(await page.getByRole('button', { name: 'Last' }).isDisabled()).toBe(true);
  expect(await page.getByLabel('Page').inputValue()).toBe('7');
  await shot(page, 'fleet-scale-last-page');
  await page.getByRole('button', { name: 'Previous' }).click();
  await shows('251–300 of 308', everyLive.slice(250, 300));
  await page.getByRole('button', { name: 'Next' }).click();
  await shows('301–308 of 308', everyLive.slice(300));
  await page.getByRole('button', { name: 'First' }).click();
  await shows('1–50 of 308', everyLive.slice(0, 50));
  expect(await page.getByRole('button', { name: 'First' }).isDisabled()).toBe(true);
  await page.getByLabel('Page').fill('3');
  await page.getByLabel('Page').press('Enter');
  await shows('101–150 of 308', everyLive.slice(100, 150));
  await page.getByRole('button', { name: 'Next' }).click();
  await shows('151–200 of 308', everyLive.slice(150, 200));
  await page.getByLabel('Page').fill('999');
  await page.getByLabel('Page').press('Enter');
  await shows('301–308 of 308', everyLive.slice(300));
  await page.close();
});

it('drains a host only once the confirmation naming it is confirmed; Cancel leaves it online', async () => {
  const host = live[100];
  const drainedNow = async () => (await api(fleet, 'GET', `/agent/${host}`)).body.drained;
  const drains = await new Kvm(nc).open(DRAINS_BUCKET);
  const page = await fleetPage();
  const box = page.getByLabel('Filter');
  await box.fill(host);
  await box.press('Enter');
  const row = page.locator(`[data-view=fleet] tr[data-host=${host}]`);
  await page.getByTestId('fleet-pager').locator('span', { hasText: '1–1 of 1' }).waitFor(WAIT);
  await row.getByRole('button', { name: 'Drain' }).click();
  const dialog = page.getByRole('dialog', { name: `Drain ${host}` });
  await dialog.waitFor(WAIT);
  expect(await dialog.innerText()).toContain(`Drain ${host}? It leaves _all, _any and label targets`);
  await shot(page, 'fleet-scale-drain-confirm');
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await dialog.waitFor({ state: 'detached', ...WAIT });
  expect(await drainedNow()).toBe(false);
  expect(await drains.get(host)).toBeNull();
  try {
    await row.getByRole('button', { name: 'Drain' }).click();
    await dialog.getByRole('button', { name: `Confirm drain ${host}` }).click();
    await row.getByRole('button', { name: 'Undrain' }).waitFor(WAIT);
    expect(await drainedNow()).toBe(true);
    expect((await drains.get(host))?.json()).toMatchObject({ drained: true });
  } finally {
    expect((await api(fleet, 'POST', `/agent/${host}/undrain`)).status).toBe(200);
    await page.close();
  }
});

/**
 * The matrix's Host cell as the browser's profiler counts its calls (V8 precise coverage): one call per row drawn. The
 * dashboard is minified, so the function is found in its source as the Host column whose cell reads a row's signal.
 */
async function matrixHostCellCalls(coverage: { result: ScriptCoverage[] }, source: string): Promise<number> {
  const cell = /header:"Host",class:"host",cell:\w+=>\w+\.value\.hostname/.exec(source);
  if (!cell) throw new Error("the matrix's Host column is not in the dashboard's script");
  const at = cell.index + cell[0].indexOf('=>');
  const script = coverage.result.find((entry) => entry.url.endsWith('/ui/app.js'));
  const enclosing = (script?.functions ?? [])
    .map((fn) => fn.ranges[0])
    .filter((range) => range.startOffset <= at && at < range.endOffset)
    .sort((a, b) => a.endOffset - a.startOffset - (b.endOffset - b.startOffset));
  if (!enclosing.length) throw new Error('no coverage for the Host cell');
  return enclosing[0].count;
}

interface ScriptCoverage {
  url: string;
  functions: Array<{ ranges: Array<{ startOffset: number; endOffset: number; count: number }> }>;
}

/** Counts, in the page, row status changes of the job matrix and matrix rows taken off the page. */
const MATRIX_MUTATIONS = `(() => {
  const seen = { statusChanges: 0, rowsRemoved: 0 };
  window.matrixMutations = seen;
  new MutationObserver((records) => {
    for (const record of records) {
      if (record.type === 'attributes' && record.target.closest('[data-view=job]') && record.oldValue !== record.target.getAttribute('data-status')) seen.statusChanges++;
      for (const node of record.removedNodes) if (node.nodeName === 'TR' || node.nodeName === 'TBODY') seen.rowsRemoved++;
    }
  }).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-status'], attributeOldValue: true });
})()`;

it("draws each row of an _all job's matrix once as it fills (not once per slice added), and redraws only rows that change", async () => {
  let cdp: CDPSession | undefined;
  const page = await fleetPage(async (blank) => {
    cdp = await blank.context().newCDPSession(blank);
    await cdp.send('Profiler.enable');
    await cdp.send('Profiler.startPreciseCoverage', { callCount: true, detailed: false });
  });
  const source = await (await fetch(`${fleet.url}/ui/app.js`)).text();
  await page.evaluate(MATRIX_MUTATIONS);
  await cdp!.send('Profiler.takePreciseCoverage');
  const started = await api(fleet, 'GET', '/node/_all/container/docker/system/ping?async=true');
  expect(started.status).toBe(202);
  const hosts = (await api(fleet, 'GET', `/job/${started.body.job_id}`)).body.hosts.length;
  // Every live, undrained host: the 290 written ones and the 3 engines; more than one slice of 150 rows.
  expect(hosts).toBe(293);
  await page.evaluate((hash) => (location.hash = hash), `#/job/${started.body.job_id}`);
  await page.waitForFunction((n) => document.querySelectorAll('[data-view=job] tbody tr[data-host]').length === n, hosts, WAIT);
  const coverage = (await cdp!.send('Profiler.takePreciseCoverage')) as { result: ScriptCoverage[] };
  const { statusChanges, rowsRemoved } = (await page.evaluate('window.matrixMutations')) as { statusChanges: number; rowsRemoved: number };
  const drawn = await matrixHostCellCalls(coverage, source);
  expect(drawn).toBeGreaterThanOrEqual(hosts);
  // Once per row, once more per change of a row (a status, or a row landing twice), and a little slack for the rows
  // changing while the count is read: the slices before drew 150 + 293 rows.
  expect(drawn).toBeLessThanOrEqual(hosts + 2 * statusChanges + 10);
  expect(rowsRemoved).toBe(0);
  await shot(page, 'matrix-scale');
  await page.locator('input[name=failed-only]').check();
  await page.locator('input[name=failed-only]').uncheck();
  await page.waitForFunction((n) => document.querySelectorAll('[data-view=job] tbody tr[data-host]').length === n, hosts, WAIT);
  await cdp!.detach();
  await page.close();
});
