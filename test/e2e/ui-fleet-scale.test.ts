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
import type { Page } from 'playwright-core';
import { AGENTS_BUCKET, type AgentRecord } from '@fleet/contracts/protocol';
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

async function fleetPage(): Promise<Page> {
  const page = await browser.context.newPage();
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
