/**
 * The dashboard's fleet view with an agent waiting to be enrolled: the 3-engine fleet plus new-01,
 * started pending (asking for role=web). Only an unscoped admin is offered Accept; accepting from
 * the page writes the enrolment to the broker and the row turns accepted from the agents feed.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { Kvm } from '@nats-io/kv';
import type { Page } from 'playwright-core';
import { ENROLLMENTS_BUCKET } from '@fleet/contracts/protocol';
import { api } from '../support/http';
import { connectToFleetNats } from '../support/nats';
import { useChromium, useTestFleet } from '../support/suite';

const ARTIFACTS = path.join(__dirname, '..', 'artifacts');
const WAIT = { timeout: 30_000 };

const fleet = useTestFleet({
  agents: [
    { hostname: 'web-01', labels: { role: 'web', zone: 'eu.west' } },
    { hostname: 'web-02', labels: { role: 'web', zone: 'us.east' } },
    { hostname: 'db-01', labels: { role: 'db', zone: 'eu.west' } },
    { hostname: 'new-01', labels: { role: 'web', zone: 'eu.west' } },
  ],
  pendingAgents: ['new-01'],
});
const browser = useChromium();

beforeAll(() => mkdirSync(ARTIFACTS, { recursive: true }));

/** `rows`: whether the key sees any host at all (a key scoped to a pending host sees none). */
async function signedIn(key: string, rows = true): Promise<Page> {
  const page = await browser.context.newPage();
  await page.goto(`${fleet.url}/ui/`, { waitUntil: 'load', timeout: 60_000 });
  await page.getByLabel('API key').fill(key);
  await page.getByRole('button', { name: 'Sign in' }).click();
  // The agents feed has delivered the fleet as this key sees it.
  await page.locator('[data-view=fleet] .feed.live').waitFor(WAIT);
  if (rows) await page.locator('[data-view=fleet] tbody tr').first().waitFor(WAIT);
  return page;
}

async function enrolled(hostname: string): Promise<boolean> {
  const nc = await connectToFleetNats(fleet.state);
  try {
    const entry = await (await new Kvm(nc).open(ENROLLMENTS_BUCKET)).get(hostname);
    return entry?.operation === 'PUT';
  } finally {
    await nc.close();
  }
}

it('a pending agent is shown with the labels it asks for; an operator and a scoped admin are offered no Accept', async () => {
  expect(await enrolled('new-01')).toBe(false);
  const operator = await signedIn(fleet.mintKey('operator'));
  await operator.locator('[data-view=fleet] tr[data-host=new-01]').waitFor(WAIT);
  expect(await operator.getByRole('button', { name: 'Accept' }).count()).toBe(0);
  await operator.close();
  // A scope is judged by the labels an admin gave: a host never accepted is inside none, not even one naming it.
  const scopedAdmin = await signedIn(fleet.mintKey('admin', { scope: 'new-01' }), false);
  expect(await scopedAdmin.locator('[data-view=fleet] tr[data-host=new-01]').count()).toBe(0);
  expect(await scopedAdmin.getByRole('button', { name: 'Accept' }).count()).toBe(0);
  await scopedAdmin.close();
});

it('an admin accepts it from the fleet view: the broker holds the enrolment, the row turns accepted live', async () => {
  const page = await signedIn(fleet.adminKey);
  const row = page.locator('[data-view=fleet] tr[data-host=new-01]');
  await row.waitFor(WAIT);
  expect(await row.getAttribute('data-enrollment')).toBe('pending');
  expect(await row.innerText()).toContain('asks for');
  expect(await page.locator('[data-view=fleet] h2 .badge.pending').innerText()).toBe('1 pending');
  await page.screenshot({ path: path.join(ARTIFACTS, 'ui-fleet-pending.png'), fullPage: true });
  let reloads = 0;
  page.on('load', () => reloads++);
  await row.getByRole('button', { name: 'Accept' }).click();
  await page.locator('[data-view=fleet] tr[data-host=new-01][data-enrollment=accepted]').waitFor(WAIT);
  expect(reloads).toBe(0);
  expect(await enrolled('new-01')).toBe(true);
  expect((await api(fleet, 'GET', '/agent/new-01')).body).toMatchObject({
    enrollment: 'accepted',
    labels: { role: 'web', zone: 'eu.west' },
  });
  expect(await row.locator('.label').allTextContents()).toEqual(['role=web', 'zone=eu.west']);
  await page.screenshot({ path: path.join(ARTIFACTS, 'ui-fleet-accepted.png'), fullPage: true });
  await page.close();
  expect(browser.requested.filter((url) => !url.startsWith(`${fleet.url}/`) && !url.startsWith('data:'))).toEqual([]);
});
