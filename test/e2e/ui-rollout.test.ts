/**
 * A rollout's job page in headless Chromium (Debian `chromium` driven by playwright-core) against a real fleet:
 * NATS, three dockerd engines, the real gateway and agents (README "Dashboard", "Rollouts", "Rerunning a job").
 * The page shows the waves as the job feed announces them, the skipped rows with their reason, reruns the failed or
 * skipped hosts through POST /job/{id}/rerun, and holds, resumes and aborts a running rollout; what it did is checked
 * on the engines (each container's StartedAt moves exactly when its host was restarted).
 */
import type { Page } from 'playwright-core';
import { eventually } from '../support/eventually';
import { api } from '../support/http';
import { useChromium, useTestFleet } from '../support/suite';
import { screenshot, signedInPage } from '../support/ui-pages';

const IMAGE = 'local/busybox:latest';
const HOSTS = ['db-01', 'web-01', 'web-02'];
const CONTAINER = 'ui-roll';
const WAIT = { timeout: 30_000 };

const fleet = useTestFleet();
const browser = useChromium();

afterAll(async () => {
  await fleet.removeContainers(HOSTS, [CONTAINER, 'ui-env']);
});

afterEach(() => expect(browser.pageErrors).toEqual([]));

async function runContainer(host: string): Promise<void> {
  const container = await fleet.docker(host).createContainer({ name: CONTAINER, Image: IMAGE, Cmd: ['sleep', '3600'] });
  await container.start();
}

async function startedAt(): Promise<Record<string, string | undefined>> {
  const read = async (host: string) => {
    const state = await fleet
      .docker(host)
      .getContainer(CONTAINER)
      .inspect()
      .then((info) => info.State.StartedAt as string)
      .catch(() => undefined);
    return [host, state] as const;
  };
  return Object.fromEntries(await Promise.all(HOSTS.map(read)));
}

/** The hosts whose container was started again between two readings of the engines. */
function restartedBetween(before: Record<string, string | undefined>, after: Record<string, string | undefined>): string[] {
  return HOSTS.filter((host) => before[host] !== undefined && before[host] !== after[host]);
}

const waveStates = (page: Page) => page.locator('[data-testid=rollout] li.wave').evaluateAll((items) => items.map((i) => i.dataset.state));
const rowStatus = (page: Page, host: string) => page.locator(`[data-view=job] tr[data-host=${host}]`).getAttribute('data-status');
const jobIdOf = (page: Page) => page.url().split('/job/')[1];

/**
 * Clicks "Rerun <rows> (<count>)" on the job page of `jobId`, checks its dialog says `dialogSays`, confirms, and
 * answers the rerun's job id once the page moved to it.
 */
async function rerunFromPage(page: Page, rows: 'failed' | 'skipped', count: number, dialogSays: string, jobId: string): Promise<string> {
  await page.getByRole('button', { name: `Rerun ${rows} (${count})` }).click();
  expect(await page.getByRole('dialog').innerText()).toContain(dialogSays);
  await page.getByRole('button', { name: `Confirm rerun ${rows}` }).click();
  await eventually(
    async () => jobIdOf(page),
    (value) => expect(value).not.toBe(jobId),
  );
  return jobIdOf(page);
}

/** The job once its rollout ended (its last progress is stored just after its last row). */
async function settled(jobId: string): Promise<{ status: string; hosts: string[]; rerun_of?: string; rollout: { state: string } }> {
  let job = (await api(fleet, 'GET', `/job/${jobId}?wait=30`)).body;
  await eventually(
    async () => (job = (await api(fleet, 'GET', `/job/${jobId}?wait=30`)).body),
    (value) => expect(value.rollout?.state).not.toBe('running'),
  );
  return job;
}

describe('a rollout that stopped at its first host (batch=1, max_failures=0, db-01 lacks the container)', () => {
  let stoppedId: string;
  beforeAll(async () => {
    await Promise.all(['web-01', 'web-02'].map(runContainer));
    const res = await api(fleet, 'POST', `/node/_all/container/docker/${CONTAINER}/restart?t=0&batch=1&max_failures=0&timeout=20`);
    expect(res.status).toBe(409);
    stoppedId = res.body.job_id;
  });

  it('shows its waves, the stop reason and each skipped row with its reason; no pause or abort once it ended', async () => {
    const page = await signedInPage(browser.context, fleet.url, fleet.mintKey('operator'), `/job/${stoppedId}`);
    await eventually(
      () => waveStates(page),
      (value) => expect(value).toEqual(['failed', 'skipped', 'skipped']),
    );
    expect(await page.getByTestId('stop-reason').innerText()).toContain('rollout stopped after wave 1 of 3');
    expect(await page.locator('[data-testid=rollout] h3 .badge').first().innerText()).toBe('stopped');
    for (const host of ['web-01', 'web-02']) {
      expect(await rowStatus(page, host)).toBe('skipped');
      expect(await page.locator(`tr[data-host=${host}] .skipped-reason`).innerText()).toContain('after wave 1 of 3');
    }
    expect(await rowStatus(page, 'db-01')).toBe('failed');
    expect(await page.getByRole('button', { name: /^(Pause|Resume|Abort)$/ }).count()).toBe(0);
    await screenshot(page, 'rollout-stopped');
    await page.close();
  });

  it("a viewer may not read a restart's job (the gateway's refusal shown) and is offered no control", async () => {
    const viewer = await signedInPage(browser.context, fleet.url, fleet.mintKey('viewer'), `/job/${stoppedId}`);
    await eventually(
      () => viewer.getByRole('alert').innerText(),
      (value) => expect(value).toContain("requires permission 'docker:write'"),
    );
    expect(await viewer.locator('[data-testid=rollout]').count()).toBe(0);
    expect(await viewer.locator('button.mutate').count()).toBe(0);
    await viewer.close();
  });

  it('"Rerun failed" once db-01 has the container restarts db-01 only; "Rerun skipped" then restarts web-01 and web-02 only', async () => {
    const page = await signedInPage(browser.context, fleet.url, fleet.mintKey('operator'), `/job/${stoppedId}`);
    await page.locator('[data-testid=rollout][data-state=stopped]').waitFor(WAIT);

    await runContainer('db-01');
    const beforeFailed = await startedAt();
    const failedRerunId = await rerunFromPage(page, 'failed', 1, 'on 1 host(s): db-01', stoppedId);
    const failedRerun = await settled(failedRerunId);
    expect(failedRerun).toMatchObject({ hosts: ['db-01'], status: 'ok', rerun_of: stoppedId });
    expect(restartedBetween(beforeFailed, await startedAt())).toEqual(['db-01']);
    await page.getByTestId('rerun-of').locator(`a[href="#/job/${stoppedId}"]`).waitFor(WAIT);

    // Back on the original: it lists its rerun, and its skipped hosts can be rerun too.
    await page.getByTestId('rerun-of').locator('a').click();
    await page.getByTestId('reruns').locator(`a[href="#/job/${failedRerunId}"]`).waitFor(WAIT);
    await screenshot(page, 'rollout-reruns-listed');
    const beforeSkipped = await startedAt();
    const skippedRerun = await settled(await rerunFromPage(page, 'skipped', 2, 'Already rerun 1 time(s)', stoppedId));
    expect(skippedRerun).toMatchObject({ hosts: ['web-01', 'web-02'], status: 'ok', rerun_of: stoppedId });
    expect(restartedBetween(beforeSkipped, await startedAt())).toEqual(['web-01', 'web-02']);
    await eventually(
      () => page.locator('[data-view=job] tbody tr[data-status=ok]').count(),
      (value) => expect(value).toBe(2),
    );
    await screenshot(page, 'rollout-rerun');
    await page.close();
  });
});

describe('a rerun the gateway refuses', () => {
  it('shows the refusal with its reason and details, stays on the job, and nothing is created', async () => {
    // db-01 already has a container of that name: the create fails there. Its environment values were never stored.
    await fleet.docker('db-01').createContainer({ name: 'ui-env', Image: IMAGE, Cmd: ['sleep', '3600'] });
    const body = { image: IMAGE, name: 'ui-env', cmd: ['sleep', '3600'], env: { TOKEN: 'not-kept' } };
    const created = await api(fleet, 'POST', '/node/_all/container/docker', { body });
    expect(created.body.results.map((row: { status: string }) => row.status)).toEqual(['failed', 'ok', 'ok']);
    const page = await signedInPage(browser.context, fleet.url, fleet.mintKey('operator'), `/job/${created.body.job_id}`);
    await page.getByRole('button', { name: 'Rerun failed (1)' }).click(WAIT);
    await page.getByRole('button', { name: 'Confirm rerun failed' }).click();
    await eventually(
      () => page.getByRole('alert').innerText(),
      (value) => expect(value).toMatch(/^not_rerunnable: job cannot be rerun — .*environment values/),
    );
    expect(jobIdOf(page)).toBe(created.body.job_id);
    const onDb = await fleet.docker('db-01').listContainers({ all: true, filters: { name: ['ui-env'] } });
    expect(onDb.map((container) => container.Names)).toEqual([['/ui-env']]);
    expect(await page.content()).not.toContain('not-kept');
    await page.close();
  });
});

describe('a running rollout (batch=1, 15 s between waves, gate: still running 1 s after the restart)', () => {
  let jobId: string;
  let before: Record<string, string | undefined>;
  let page: Page;
  beforeAll(async () => {
    await fleet.removeContainers(HOSTS, [CONTAINER]);
    await Promise.all(HOSTS.map(runContainer));
    before = await startedAt();
    // A wave's deadline of 120 s leaves the rollout room to be held a while before its remaining waves no longer fit.
    const res = await api(
      fleet,
      'POST',
      `/node/_all/container/docker/${CONTAINER}/restart?t=0&batch=1&pause=15&health=running&health_delay=1&async=true&timeout=120`,
    );
    expect(res.status).toBe(202);
    jobId = res.body.job_id;
    page = await signedInPage(browser.context, fleet.url, fleet.mintKey('operator', { subject: 'night-shift' }), `/job/${jobId}`);
  });
  afterAll(() => page?.close());

  it('Pause holds it after wave 1: the page says who held it, wave 2 is not sent (web-01 not restarted)', async () => {
    await page.getByRole('button', { name: 'Pause' }).click(WAIT);
    await page.locator('[data-testid=rollout] .badge.held').getByText('held by night-shift').waitFor(WAIT);
    await eventually(
      () => waveStates(page),
      (value) => expect(value).toEqual(['passed', 'pending', 'pending']),
    );
    expect(await page.locator('li.wave[data-wave="1"] [data-testid=gate]').innerText()).toBe('gate running: passed');
    const held = (await api(fleet, 'GET', `/job/${jobId}`)).body.rollout;
    expect(held).toMatchObject({ state: 'running', paused_by: 'night-shift' });
    // Past the pause between waves: the hold keeps wave 2 from being sent.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, Date.parse(held.paused_until ?? '') - Date.now()) + 2_000));
    expect(await waveStates(page)).toEqual(['passed', 'pending', 'pending']);
    expect(restartedBetween(before, await startedAt())).toEqual(['db-01']);
    await screenshot(page, 'rollout-paused');
  });

  it('while held, a key scoped to role:web is offered Resume but refused by the gateway, its reason shown', async () => {
    const scoped = await signedInPage(browser.context, fleet.url, fleet.mintKey('operator', { scope: 'role:web' }), `/job/${jobId}`);
    await scoped.getByRole('button', { name: 'Resume' }).click(WAIT);
    await eventually(
      () => scoped.getByRole('alert').innerText(),
      (value) => expect(value).toMatch(/^out_of_scope: .*outside this key's scope 'role:web'/),
    );
    expect((await api(fleet, 'GET', `/job/${jobId}`)).body.rollout.paused_by).toBe('night-shift');
    await scoped.close();
  });

  it('a viewer follows the waves of a read it may run (system df in waves) and is offered no pause or abort', async () => {
    const df = await api(fleet, 'GET', '/node/_all/container/docker/system/df?batch=1&pause=30&async=true&timeout=60');
    expect(df.status).toBe(202);
    const viewer = await signedInPage(browser.context, fleet.url, fleet.mintKey('viewer'), `/job/${df.body.job_id}`);
    await eventually(
      () => waveStates(viewer),
      (value) => expect(value).toEqual(['passed', 'pending', 'pending']),
    );
    expect((await api(fleet, 'GET', `/job/${df.body.job_id}`)).body.rollout.state).toBe('running');
    expect(await viewer.getByRole('button', { name: /^(Pause|Resume|Abort)$/ }).count()).toBe(0);
    expect(await viewer.locator('button.mutate').count()).toBe(0);
    await viewer.close();
    expect((await api(fleet, 'POST', `/job/${df.body.job_id}/abort`)).status).toBe(200);
  });

  it('Resume lets wave 2 go; Abort, once confirmed, skips wave 3: web-02 is never restarted', async () => {
    await page.getByRole('button', { name: 'Resume' }).click();
    await eventually(
      () => waveStates(page),
      (value) => expect(value.slice(0, 2)).toEqual(['passed', 'passed']),
    );
    expect(await page.locator('[data-testid=rollout] .badge.held').count()).toBe(0);
    await page.getByRole('button', { name: 'Abort' }).click();
    expect(await page.getByRole('dialog').innerText()).toContain('1 host(s) not yet reached are skipped: web-02');
    await page.getByRole('button', { name: 'Confirm abort' }).click();
    await eventually(
      () => waveStates(page),
      (value) => expect(value).toEqual(['passed', 'passed', 'skipped']),
    );
    expect(await page.getByTestId('stop-reason').innerText()).toContain('by night-shift');
    await eventually(
      () => page.locator('tr[data-host=web-02] .skipped-reason').innerText(),
      (value) => expect(value).toContain('aborted'),
    );
    expect(await page.getByRole('button', { name: /^(Pause|Resume|Abort)$/ }).count()).toBe(0);
    expect((await settled(jobId)).rollout.state).toBe('aborted');
    expect(restartedBetween(before, await startedAt())).toEqual(['db-01', 'web-01']);
    await screenshot(page, 'rollout-aborted');
  });
});

describe('a rollout whose gate fails on its first host (health_cmd=false)', () => {
  it("stops it: wave 1 shows the gate's finding on db-01, the next waves are skipped and never sent", async () => {
    const before = await startedAt();
    const res = await api(fleet, 'POST', `/node/_all/container/docker/${CONTAINER}/restart?t=0&batch=1&health_cmd=false&timeout=30`);
    expect(res.status).toBe(409);
    const page = await signedInPage(browser.context, fleet.url, fleet.mintKey('operator'), `/job/${res.body.job_id}`);
    await eventually(
      () => waveStates(page),
      (value) => expect(value).toEqual(['failed', 'skipped', 'skipped']),
    );
    expect(await page.locator('li.wave[data-wave="1"] [data-testid=gate]').innerText()).toMatch(/^gate exec failed: db-01 \(.+\)$/);
    expect(restartedBetween(before, await startedAt())).toEqual(['db-01']);
    await screenshot(page, 'rollout-gate-failed');
    await page.close();
  });
});
