/**
 * The dashboard's stacks view in headless Chromium (Debian `chromium` driven by playwright-core) against a real fleet of
 * two engines (README "Dashboard", "Stacks"): a stack deployed through the API in two revisions, one of its containers
 * removed by hand on web-02. The page shows each host's state and what drifted, the revisions with their compose text,
 * and a rollback confirmed on the page becomes a new revision that the engines run (checked on each engine). A viewer
 * key sees the same stack and no rollback control.
 */
import path from 'node:path';
import type { Page } from 'playwright-core';
import { defaultAgents, freePort, type Registry, startRegistry, stopRegistry } from '@fleet/deploy';
import { eventually } from '../support/eventually';
import { api } from '../support/http';
import { useChromium, useScratchDir, useTestFleet } from '../support/suite';
import { screenshot, signedInPage } from '../support/ui-pages';

const HOSTS = ['web-01', 'web-02'];
const BUSYBOX = 'local/busybox:latest';
const STACK = 'shop';
const WAIT = { timeout: 30_000 };
/** The width an operator's laptop gives the dashboard. */
const VIEWPORT = { width: 1280, height: 800 };
const PROJECT_LABEL = 'com.docker.compose.project';
const SERVICE_LABEL = 'com.docker.compose.service';
const REVISION_LABEL = 'fleet.stack.revision';

// Heartbeats each second: a host's reported state reaches GET /stack sooner than the default 5 s.
const fleet = useTestFleet({ agents: defaultAgents(2), agentEnv: { FLEET_AGENT_HEARTBEAT_MS: '1000' } });
const browser = useChromium();
const scratch = useScratchDir('/tmp/flt-uistk-');
let registry: Registry;

const appImage = () => `${registry.address}/ui-stack-app:1`;

/**
 * A revision's command: `sleep` differs per revision, so each revision changes both containers. The shell leaves on
 * SIGTERM, so a recreate does not wait out the engine's stop timeout (a bare `sleep` as PID 1 ignores it).
 */
const commandOf = (sleep: string) => ['sh', '-c', `trap 'exit 0' TERM; sleep ${sleep} & wait`];

/** Two services on one image, the same command. */
function compose(sleep: string): string {
  const command = `    command: ${JSON.stringify(commandOf(sleep))}`;
  return [
    'services:',
    '  web:',
    `    image: ${appImage()}`,
    command,
    '  worker:',
    `    image: ${appImage()}`,
    command,
    '    depends_on: [web]',
    '',
  ].join('\n');
}

/** Commits busybox as the stack's image and pushes it to the suite's loopback registry; every agent pulls it from there. */
async function pushAppImage(): Promise<void> {
  const engine = fleet.docker('web-01');
  const reference = appImage();
  const container = await engine.createContainer({ Image: BUSYBOX, Cmd: ['true'] });
  await container.commit({ repo: reference.slice(0, reference.lastIndexOf(':')), tag: '1' });
  await container.remove();
  const stream = (await engine.getImage(reference).push({ authconfig: { serveraddress: registry.address } })) as NodeJS.ReadableStream;
  let progress = '';
  for await (const chunk of stream) progress += chunk.toString();
  if (progress.includes('"error"')) throw new Error(`pushing ${reference} failed: ${progress}`);
}

/** The job of a revision once it ended. */
async function settled(jobId: string): Promise<{ status: string }> {
  let job = { status: 'running' };
  await eventually(
    async () => (job = (await api(fleet, 'GET', `/job/${jobId}?wait=30`)).body),
    (value) => expect(['pending', 'running']).not.toContain(value.status),
  );
  return job;
}

async function deploy(sleep: string): Promise<number> {
  const res = await api(fleet, 'PUT', `/stack/${STACK}`, { body: { compose: compose(sleep), target: 'role:web' } });
  expect(res.status).toBe(202);
  expect(await settled(res.body.job_id)).toMatchObject({ status: 'ok' });
  return res.body.revision;
}

/** service → `<the shell's script> @ revision <label>` of the stack's running containers on one engine. */
async function onEngine(host: string): Promise<Record<string, string>> {
  const engine = fleet.docker(host);
  const listed = await engine.listContainers({ filters: JSON.stringify({ label: [`${PROJECT_LABEL}=${STACK}`] }) });
  const described = await Promise.all(
    listed.map(async (summary) => {
      const inspected = await engine.getContainer(summary.Id).inspect();
      return [summary.Labels[SERVICE_LABEL], `${inspected.Config.Cmd.at(-1)} @ revision ${summary.Labels[REVISION_LABEL]}`] as const;
    }),
  );
  return Object.fromEntries(described);
}

async function hostStates(): Promise<Record<string, string>> {
  const hosts = (await api(fleet, 'GET', `/stack/${STACK}`)).body.hosts as Array<{ hostname: string; state: string }>;
  return Object.fromEntries(hosts.map((host) => [host.hostname, host.state]));
}

const hostRow = (page: Page, host: string) => page.locator(`[data-view=stack] table.stack-hosts tr[data-host=${host}]`);
const revisionsShown = (page: Page) =>
  page.locator('table.revisions tbody tr').evaluateAll((rows) => rows.map((row) => (row as HTMLElement).dataset.revision));

let firstRevision: number;
let secondRevision: number;

beforeAll(async () => {
  registry = await startRegistry({ dir: path.join(scratch(), 'registry'), port: await freePort() });
  await pushAppImage();
  firstRevision = await deploy('3600');
  secondRevision = await deploy('3601');
  // web-02's web container removed by hand: its agent reports the stack drifted (on_drift report: left as it is).
  const web = (
    await fleet
      .docker('web-02')
      .listContainers({ filters: JSON.stringify({ label: [`${PROJECT_LABEL}=${STACK}`, `${SERVICE_LABEL}=web`] }) })
  )[0];
  await fleet.docker('web-02').getContainer(web.Id).remove({ force: true });
  await eventually(hostStates, (states) => expect(states).toEqual({ 'web-01': 'in_sync', 'web-02': 'drifted' }));
}, 120_000);

afterAll(async () => {
  await api(fleet, 'DELETE', `/stack/${STACK}`).catch(() => undefined);
  if (registry) await stopRegistry(registry);
});

afterEach(() => expect(browser.pageErrors).toEqual([]));

describe('the stacks view of a stack on role:web, drifted on web-02', () => {
  it('lists the stack with its revision, target and hosts per state', async () => {
    const page = await signedInPage(browser.context, fleet.url, fleet.mintKey('operator'), '/stacks', VIEWPORT);
    const row = page.locator(`tr[data-stack=${STACK}]`);
    await row.waitFor(WAIT);
    expect(await row.innerText()).toContain(`${secondRevision}\trole:web`);
    const counts = await row.locator('.badge').evaluateAll((badges) => badges.map((badge) => badge.textContent));
    expect(counts).toEqual(['drifted 1', 'in_sync 1']);
    await screenshot(page, 'stacks-list');
    await page.close();
  });

  it("shows each host's state, what drifted on web-02, the revisions and a revision's compose text", async () => {
    const page = await signedInPage(browser.context, fleet.url, fleet.mintKey('operator'), `/stacks/${STACK}`, VIEWPORT);
    await hostRow(page, 'web-02').locator('[data-testid=drift]').waitFor(WAIT);
    // What needs a look first: the drifted host above the one in sync.
    const listed = await page
      .locator('table.stack-hosts tbody tr')
      .evaluateAll((rows) => rows.map((row) => (row as HTMLElement).dataset.host));
    expect(listed).toEqual(['web-02', 'web-01']);
    expect(await hostRow(page, 'web-01').getAttribute('data-state')).toBe('in_sync');
    expect(await hostRow(page, 'web-02').getAttribute('data-state')).toBe('drifted');
    expect(await hostRow(page, 'web-02').locator('[data-testid=drift] li').first().innerText()).toMatch(/^web /);
    expect(await page.getByTestId('on-drift').innerText()).toBe('report');
    const stack = (await api(fleet, 'GET', `/stack/${STACK}`)).body;
    expect(await page.getByTestId('rollout-job').getAttribute('href')).toBe(`#/job/${stack.revisions[0].job_id}`);
    await page.getByTestId('rollout-status').locator('.badge.ok').waitFor(WAIT);
    expect(await revisionsShown(page)).toEqual([String(secondRevision), String(firstRevision)]);

    await page.getByRole('button', { name: `Compose ${firstRevision}` }).click();
    const text = page.getByTestId('compose').locator('pre.compose-text');
    await text.waitFor(WAIT);
    // Byte for byte as it was sent.
    expect(await text.textContent()).toBe(compose('3600'));
    expect(await page.getByTestId('compose').innerText()).toContain(stack.revisions[1].digest);
    await screenshot(page, 'stack-drifted');
    await page.close();
  });

  it('a viewer sees the stack and its compose text but no rollback control', async () => {
    const page = await signedInPage(browser.context, fleet.url, fleet.mintKey('viewer'), `/stacks/${STACK}`, VIEWPORT);
    await hostRow(page, 'web-02').waitFor(WAIT);
    await page.getByRole('button', { name: `Compose ${firstRevision}` }).click();
    await page.getByTestId('compose').locator('pre.compose-text').waitFor(WAIT);
    expect(await page.getByRole('button', { name: /^Roll back/ }).count()).toBe(0);
    expect(await page.locator('button.mutate').count()).toBe(0);
    // Its rollout's job is a stack:write operation's: linked, its status not read with a key that may not read it.
    expect(await page.getByTestId('rollout-job').count()).toBe(1);
    expect(await page.getByTestId('rollout-status').count()).toBe(0);
    await page.close();
  });

  it("a key scoped to role:db sees no stack in the list, and the stack's page is the gateway's 404", async () => {
    const page = await signedInPage(browser.context, fleet.url, fleet.mintKey('operator', { scope: 'role:db' }), '/stacks', VIEWPORT);
    await page.getByTestId('no-stacks').waitFor(WAIT);
    expect(await page.getByTestId('no-stacks').innerText()).toBe("No stack targets hosts within this key's scope (role:db).");
    await screenshot(page, 'stacks-scoped-empty');
    await page.goto(`${fleet.url}/ui/#/stacks/${STACK}`);
    await eventually(
      () => page.getByRole('alert').innerText(),
      (value) => expect(value).toContain('stack not found'),
    );
    expect(await page.locator('table.stack-hosts, table.revisions, button.mutate').count()).toBe(0);
    await page.close();
  });

  it('a rollback to revision 1 confirmed on the page is a new revision that both engines run, both hosts in sync', async () => {
    const page = await signedInPage(browser.context, fleet.url, fleet.mintKey('operator'), `/stacks/${STACK}`, VIEWPORT);
    await page.getByRole('button', { name: `Roll back to ${firstRevision}` }).click(WAIT);
    const dialog = await page.getByRole('dialog').innerText();
    expect(dialog).toContain(`Roll back ${STACK} to revision ${firstRevision}?`);
    expect(dialog).toContain('now on 2 host(s): web-01, web-02');
    await screenshot(page, 'stack-rollback-confirm');
    await page.getByRole('button', { name: `Confirm roll back to ${firstRevision}` }).click();
    await page.getByTestId('rolled-back').waitFor(WAIT);

    const stack = (await api(fleet, 'GET', `/stack/${STACK}`)).body;
    const rolledBack = stack.revisions[0];
    expect(rolledBack).toMatchObject({ revision: secondRevision + 1, rolled_back_from: firstRevision });
    expect(stack.revision).toBe(rolledBack.revision);
    await settled(rolledBack.job_id);
    for (const host of HOSTS) {
      const expected = `${commandOf('3600')[2]} @ revision ${rolledBack.revision}`;
      expect({ host, services: await onEngine(host) }).toEqual({ host, services: { web: expected, worker: expected } });
    }

    await eventually(
      () => revisionsShown(page),
      (value) => expect(value).toEqual([String(rolledBack.revision), String(secondRevision), String(firstRevision)]),
    );
    const newest = page.locator(`table.revisions tr[data-revision="${rolledBack.revision}"]`);
    expect(await newest.getAttribute('data-current')).toBe('true');
    expect(await newest.innerText()).toContain(`revision ${firstRevision}`);
    await eventually(
      () => Promise.all(HOSTS.map((host) => hostRow(page, host).getAttribute('data-state'))),
      (value) => expect(value).toEqual(['in_sync', 'in_sync']),
    );
    await screenshot(page, 'stack-rolled-back');
    await page.close();
  });
});
