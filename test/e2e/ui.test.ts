/**
 * The ops dashboard (/ui) in headless Chromium (Debian `chromium` driven by
 * playwright-core) against a real fleet: NATS, three dockerd engines, the real
 * gateway and agents. The page signs in with a key, talks to the gateway only,
 * and what it shows is checked against the engines themselves.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { Kvm } from '@nats-io/kv';
import type { Page } from 'playwright-core';
import { MINTED_KEYS_BUCKET } from '@fleet/contracts/protocol';
import { createFleetClient } from '@fleet/sdk';
import { eventually } from '../support/eventually';
import { api } from '../support/http';
import { connectToFleetNats } from '../support/nats';
import { EventStreamClient } from '../support/sse';
import { useChromium, useTestFleet } from '../support/suite';

const IMAGE = 'local/busybox:latest';
const HOSTS = ['db-01', 'web-01', 'web-02'];
const ARTIFACTS = path.join(__dirname, '..', 'artifacts');
const WAIT = { timeout: 30_000 };

const fleet = useTestFleet();
const browser = useChromium();

beforeAll(() => mkdirSync(ARTIFACTS, { recursive: true }));

afterAll(() =>
  fleet.removeContainers(HOSTS, ['ui-fresh', 'ui-exec', 'ui-logs', 'ui-feed', 'ui-labelled', 'ui-event', 'ui-sort-a', 'ui-sort-b']),
);

/** A fresh tab (its own sessionStorage) signed in with `key`, then on the view at `hash` when given. */
async function signedIn(key: string, hash?: string): Promise<Page> {
  const page = await browser.context.newPage();
  const res = await page.goto(`${fleet.url}/ui/`, { waitUntil: 'load', timeout: 60_000 });
  expect(res?.status()).toBe(200);
  await page.getByLabel('API key').fill(key);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByTestId('identity').waitFor(WAIT);
  if (hash) await page.goto(`${fleet.url}/ui/#${hash}`);
  return page;
}

/** Fills a view's fields by their labels, then presses `button`. */
async function submit(page: Page, fields: Record<string, string>, button: string): Promise<void> {
  for (const [label, value] of Object.entries(fields)) await page.getByLabel(label).fill(value);
  await page.getByRole('button', { name: button }).click();
}

/** An operator's page on `hash`, once `ready` shows, counting its reloads from then on: a live view never needs one. */
async function liveView(hash: string, ready: string): Promise<{ page: Page; reloads: () => number }> {
  const page = await signedIn(fleet.mintKey('operator'), hash);
  await page.locator(ready).waitFor(WAIT);
  let reloads = 0;
  page.on('load', () => reloads++);
  return { page, reloads: () => reloads };
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: path.join(ARTIFACTS, `ui-${name}.png`), fullPage: true });
}

async function createContainer(target: string, name: string, cmd: string[]): Promise<void> {
  const res = await api(fleet, 'POST', `/node/${target}/container/docker`, { body: { image: IMAGE, name, cmd, auto_start: true } });
  expect(res.status).toBe(202);
  expect(res.body.results.every((row: { status: string }) => row.status === 'ok')).toBe(true);
}

describe('the page itself', () => {
  it('is served with a Content-Security-Policy that allows the gateway only', async () => {
    const res = await fetch(`${fleet.url}/ui/`);
    expect(res.status).toBe(200);
    const csp = res.headers.get('content-security-policy') ?? '';
    for (const directive of [
      "default-src 'self'",
      "connect-src 'self'",
      "img-src 'self' data:",
      "style-src 'self'",
      "script-src 'self'",
      "frame-ancestors 'none'",
    ]) {
      expect(csp).toContain(directive);
    }
    expect(await res.text()).toContain('<script src="app.js"></script>');
  });
});

describe('GET /whoami', () => {
  it("answers a key's own claims, any role, and 401 without a valid key", async () => {
    const key = fleet.mintKey('viewer', { subject: 'wall-screen', scope: 'role:web', ttlSeconds: 600 });
    const res = await api(fleet, 'GET', '/whoami', { key });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      subject: 'wall-screen',
      role: 'viewer',
      scope: 'role:web',
      permissions: ['docker:read', 'job:read', 'agent:read', 'stack:read'],
    });
    const expiresIn = Date.parse(res.body.expires_at) - Date.now();
    expect(expiresIn).toBeGreaterThan(500_000);
    expect(expiresIn).toBeLessThanOrEqual(600_000);
    expect((await api(fleet, 'GET', '/whoami', { key: null })).status).toBe(401);
    expect((await api(fleet, 'GET', '/whoami', { key: fleet.mintKey('viewer', { ttlSeconds: -1 }) })).status).toBe(401);
  });
});

describe('GET /target/{target}', () => {
  it('resolves a target as a job would, runs nothing, and keeps a scoped key inside its scope', async () => {
    const viewer = fleet.mintKey('viewer');
    const jobsBefore = (await api(fleet, 'GET', '/job?limit=200')).body.jobs.length;
    expect((await api(fleet, 'GET', '/target/role:web', { key: viewer })).body).toEqual({
      target: 'role:web',
      hosts: ['web-01', 'web-02'],
    });
    expect((await api(fleet, 'GET', '/target/_all', { key: viewer })).body.hosts).toEqual(HOSTS);
    expect((await api(fleet, 'GET', '/target/zone:eu', { key: viewer })).body.hosts).toEqual(['db-01', 'web-01']);
    expect((await api(fleet, 'GET', '/job?limit=200')).body.jobs.length).toBe(jobsBefore);

    const unmatched = await api(fleet, 'GET', '/target/role:nope', { key: viewer });
    expect(unmatched.status).toBe(404);
    expect(unmatched.body).toMatchObject({ code: 404 });
    expect((await api(fleet, 'GET', '/target/role:web,,', { key: viewer })).status).toBe(400);

    const scoped = fleet.mintKey('viewer', { scope: 'role:web' });
    expect((await api(fleet, 'GET', '/target/web-02', { key: scoped })).body.hosts).toEqual(['web-02']);
    const outside = await api(fleet, 'GET', '/target/_all', { key: scoped });
    expect(outside.status).toBe(404);
    // Refused with the scope's one answer, naming no host outside it (README "Roles, permissions and scope").
    expect(outside.body.details).toBe("no host of this key's scope 'role:web' matches this target");
    expect((await api(fleet, 'GET', '/target/db-01', { key: scoped })).body).toEqual(outside.body);
    expect((await api(fleet, 'GET', '/target/_all', { key: null })).status).toBe(401);
  });
});

describe('GET /token', () => {
  it('lists the keys the gateway minted with who minted them, never a key; a scoped admin sees only its scope', async () => {
    const web = await api(fleet, 'POST', '/token', { body: { role: 'viewer', subject: 'list-web', scope: 'role:web', ttl_seconds: 600 } });
    const wide = await api(fleet, 'POST', '/token', { body: { role: 'operator', subject: 'list-wide', ttl_seconds: 600 } });
    expect([web.status, wide.status]).toEqual([201, 201]);
    expect((await api(fleet, 'DELETE', `/token/${wide.body.jti}`)).status).toBe(200);
    const listed = await api(fleet, 'GET', '/token');
    expect(listed.status).toBe(200);
    const byId = new Map(listed.body.keys.map((k: { jti: string }) => [k.jti, k]));
    expect(byId.get(web.body.jti)).toEqual({
      jti: web.body.jti,
      sub: 'list-web',
      role: 'viewer',
      scope: 'role:web',
      expires_at: web.body.expires_at,
      minted_by: 'local-admin',
      minted_at: expect.any(String),
      revoked: false,
    });
    expect(byId.get(wide.body.jti)).toMatchObject({ sub: 'list-wide', revoked: true });
    // The broker holds the claims only: neither key is in the bucket, nor in the list.
    const nc = await connectToFleetNats(fleet.state);
    try {
      const bucket = await new Kvm(nc).open(MINTED_KEYS_BUCKET);
      const stored = (await bucket.get(web.body.jti))?.string() ?? '';
      expect(stored).toContain('list-web');
      expect(stored).not.toContain(web.body.key);
    } finally {
      await nc.close();
    }
    expect(JSON.stringify(listed.body)).not.toContain(web.body.key);
    expect(JSON.stringify(listed.body)).not.toContain(wide.body.key);

    const scoped = await api(fleet, 'GET', '/token', { key: fleet.mintKey('admin', { scope: 'role:web' }) });
    expect(scoped.body.keys.map((k: { jti: string }) => k.jti)).toContain(web.body.jti);
    expect(scoped.body.keys.every((k: { scope?: string }) => k.scope?.startsWith('role:web'))).toBe(true);
    expect((await api(fleet, 'GET', '/token', { key: fleet.mintKey('operator') })).status).toBe(403);
  });
});

/** A feed read the way the dashboard reads it: fetch with the key as a Bearer header. */
function openFeed(path: string, key = fleet.adminKey): EventStreamClient {
  return new EventStreamClient(`${fleet.url}${path}`, { authorization: `Bearer ${key}`, accept: 'text/event-stream' });
}

describe('GET /feed/… (live feeds for every client)', () => {
  it("a job's feed sends the job, each host's row as it lands, then the settled job", async () => {
    await createContainer('_all', 'ui-feed', ['sleep', '300']);
    const started = await api(fleet, 'POST', '/node/_all/container/docker/ui-feed/exec?async=true', {
      body: { cmd: ['sh', '-c', 'sleep 1; echo from-$(cat /etc/hostname)'] },
    });
    expect(started.status).toBe(202);
    const feed = openFeed(`/feed/job/${started.body.job_id}`);
    await feed.finished();
    expect(feed.status).toBe(200);
    const names = feed.events.map((e) => e.event);
    expect(names[0]).toBe('job');
    expect(names[names.length - 1]).toBe('end');
    expect(feed.events[0].data).toMatchObject({ job_id: started.body.job_id, hosts: HOSTS });
    const end = feed.events[feed.events.length - 1].data;
    expect(end).toMatchObject({ reason: 'settled', job: { status: 'ok', hosts: HOSTS } });
    // Every host's final row reached the client, as a row event or already in the first event.
    const finalRows = [...feed.events[0].data.results, ...feed.events.filter((e) => e.event === 'row').map((e) => e.data)].filter(
      (row) => row.status === 'ok',
    );
    expect(new Set(finalRows.map((row: { hostname: string }) => row.hostname))).toEqual(new Set(HOSTS));
    for (const row of end.job.results) {
      const id = (await fleet.docker(row.hostname).getContainer('ui-feed').inspect()).Config.Hostname;
      expect(row.stdout).toBe(`from-${id}\n`);
    }
    // A settled job's feed answers at once: the job, then its end; the SDK reads it the same way.
    const again: string[] = [];
    for await (const event of createFleetClient({ url: fleet.url, apiKey: fleet.adminKey }).feeds.job(started.body.job_id))
      again.push(event.event);
    expect(again).toEqual(['job', 'end']);
  });

  it('the jobs feed announces a new job, then its outcome; refusals are plain JSON errors', async () => {
    const feed = openFeed('/feed/jobs', fleet.mintKey('viewer'));
    await eventually(
      async () => feed.status,
      (status) => expect(status).toBe(200),
    );
    const listed = await api(fleet, 'GET', '/node/role:web/container/docker');
    expect(listed.status).toBe(200);
    const jobId = listed.body.job_id;
    const announced = await feed.waitFor((e) => e.event === 'job' && e.data.job_id === jobId);
    expect(announced.data).toMatchObject({ operation: 'docker.container.list', target: 'role:web', hosts: ['web-01', 'web-02'] });
    const settled = await feed.waitFor((e) => e.event === 'job' && e.data.job_id === jobId && e.data.status !== 'running');
    expect(settled.data.status).toBe('ok');
    expect(settled.data.results.map((row: { hostname: string }) => row.hostname)).toEqual(['web-01', 'web-02']);
    await feed.close();

    const missing = await api(fleet, 'GET', '/feed/job/550e8400-e29b-41d4-a716-446655440000');
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual({ error: 'job not found', details: expect.any(String), code: 404, reason: 'not_found' });
    expect((await api(fleet, 'GET', '/feed/jobs?timeout=0')).status).toBe(400);
    expect((await api(fleet, 'GET', '/feed/agents', { key: null })).status).toBe(401);
  });

  it('the agents feed sends the fleet, then a drain as it happens', async () => {
    const feed = openFeed('/feed/agents', fleet.mintKey('viewer'));
    const first = await feed.waitFor((e) => e.event === 'agents');
    expect(first.data.agents.map((agent: { hostname: string }) => agent.hostname)).toEqual(HOSTS);
    expect((await api(fleet, 'POST', '/agent/web-02/drain')).status).toBe(200);
    try {
      const drained = await feed.waitFor((e) => e.event === 'agent' && e.data.hostname === 'web-02' && e.data.drained === true);
      expect(drained.data).toMatchObject({ live: true, enrollment: 'accepted', labels: { role: 'web' } });
    } finally {
      await api(fleet, 'POST', '/agent/web-02/undrain');
    }
    await feed.waitFor((e) => e.event === 'agent' && e.data.hostname === 'web-02' && e.data.drained === false);
    await feed.close();
  });
});

describe('the dashboard in Chromium', () => {
  it('a viewer key sees the 3 hosts and is offered no mutation control', async () => {
    const page = await signedIn(fleet.mintKey('viewer', { subject: 'wall-screen' }));
    const identity = await page.getByTestId('identity').innerText();
    expect(identity).toContain('wall-screen');
    expect(identity).toContain('viewer');
    await eventually(
      () => page.locator('[data-view=fleet] tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-host'))),
      (value) => expect(value).toEqual(HOSTS),
    );
    await page.getByRole('button', { name: 'Preview hosts' }).click();
    await eventually(
      () => page.getByTestId('target-hosts').textContent(),
      (value) => expect(value).toBe(`3 hosts: ${HOSTS.join(', ')}`),
    );
    await shot(page, 'fleet-viewer');
    expect(await page.locator('button.mutate').count()).toBe(0);
    for (const view of ['containers', 'exec', 'jobs']) {
      await page.goto(`${fleet.url}/ui/#/${view}`);
      await page.locator(`[data-view=${view}]`).waitFor(WAIT);
      expect(await page.locator('button.mutate, input[type=checkbox][aria-label^=select]').count()).toBe(0);
    }
    await page.close();
  });

  it('a container created through the REST API appears in the containers view without a reload', async () => {
    const { page, reloads } = await liveView('/containers', '[data-view=containers]');
    expect(await page.locator('tr[data-name=ui-fresh]').count()).toBe(0);
    await createContainer('web-02', 'ui-fresh', ['sleep', '300']);
    await page.locator('tr[data-name=ui-fresh][data-host=web-02]').waitFor(WAIT);
    expect(reloads()).toBe(0);
    await shot(page, 'containers');
    await page.close();
  });

  it('stop on a selection asks first, naming each host, then opens its job; the engine says stopped', async () => {
    const page = await signedIn(fleet.mintKey('operator'), '/containers');
    await page.getByLabel('select web-02 ui-fresh').check(WAIT);
    await page.getByRole('button', { name: 'Stop', exact: true }).click();
    const dialog = page.getByRole('dialog');
    expect(await dialog.locator('li').allTextContents()).toEqual(['web-02: ui-fresh']);
    expect((await fleet.docker('web-02').getContainer('ui-fresh').inspect()).State.Running).toBe(true);
    await shot(page, 'containers-confirm');
    await page.getByRole('button', { name: 'Confirm stop' }).click();
    await eventually(
      () => page.locator('[data-view=job] h2 .badge').textContent(),
      (value) => expect(value).toBe('ok'),
    );
    expect(await page.locator('[data-view=job] tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-host')))).toEqual([
      'web-02',
    ]);
    expect((await fleet.docker('web-02').getContainer('ui-fresh').inspect()).State.Running).toBe(false);
    await page.close();
  });

  it('an admin drains (once confirmed) and undrains an agent from the fleet view; the roster follows', async () => {
    const page = await signedIn(fleet.mintKey('admin'));
    const row = page.locator('[data-view=fleet] tr[data-host=web-01]');
    await row.getByRole('button', { name: 'Drain' }).click(WAIT);
    await page.getByRole('dialog', { name: 'Drain web-01' }).getByRole('button', { name: 'Confirm drain web-01' }).click();
    await eventually(
      async () => (await api(fleet, 'GET', '/agent/web-01')).body.drained,
      (value) => expect(value).toBe(true),
    );
    await eventually(
      () => row.locator('.badge.drained').count(),
      (value) => expect(value).toBe(1),
    );
    await page.getByRole('button', { name: 'Preview hosts' }).click();
    await eventually(
      () => page.getByTestId('target-hosts').textContent(),
      (value) => expect(value).toBe('2 hosts: db-01, web-02'),
    );
    await shot(page, 'fleet-admin-drained');
    await row.getByRole('button', { name: 'Undrain' }).click();
    await eventually(
      async () => (await api(fleet, 'GET', '/agent/web-01')).body.drained,
      (value) => expect(value).toBe(false),
    );
    await page.close();
  });

  it('an exec on _all started from the page fills in 3 rows, each with its host stdout', async () => {
    await createContainer('_all', 'ui-exec', ['sleep', '300']);
    const page = await signedIn(fleet.mintKey('operator'), '/exec');
    await page.getByLabel('Target').fill('_all');
    await page.getByLabel('Container').fill('ui-exec');
    await page.getByLabel('Command (sh -c)').fill('echo "from $(hostname)"; cat /etc/hostname');
    await page.getByRole('button', { name: 'Run' }).click();
    await page.locator('[data-view=job]').waitFor(WAIT);
    await eventually(
      () => page.locator('[data-view=job] tbody tr[data-status=ok]').count(),
      (value) => expect(value).toBe(3),
    );
    for (const host of HOSTS) {
      const stdout = await page.locator(`tr[data-host=${host}] pre.stdout`).innerText();
      const id = (await fleet.docker(host).getContainer('ui-exec').inspect()).Config.Hostname;
      expect(stdout).toContain(`from ${id}`);
    }
    await shot(page, 'job-exec');
    // The matrix filled from the job's feed: the page never polled GET /job/{id}.
    const jobId = page.url().split('/job/')[1];
    expect(browser.requested.filter((url) => url.includes(`/feed/job/${jobId}`)).length).toBeGreaterThan(0);
    expect(browser.requested.filter((url) => url.startsWith(`${fleet.url}/job/${jobId}`))).toEqual([]);
    await page.close();
  });

  it('a job failing on one host shows it under "failed"; rerun on failed hosts runs there only', async () => {
    // The container exists on two hosts only: the exec fails on db-01.
    await createContainer('role:web', 'ui-logs', ['sh', '-c', 'echo booted; exec sleep 300']);
    const page = await signedIn(fleet.mintKey('operator'), '/exec');
    await submit(page, { Target: '_all', Container: 'ui-logs', 'Command (sh -c)': 'echo ran >> /tmp/runs; cat /tmp/runs | wc -l' }, 'Run');
    await eventually(
      () => page.locator('[data-view=job] h2 .badge').textContent(),
      (value) => expect(value).toBe('partial'),
    );
    await page.getByLabel(/Failed only/).check();
    expect(await page.locator('[data-view=job] tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-host')))).toEqual([
      'db-01',
    ]);
    expect(await page.locator('tr[data-host=db-01] pre.stderr').innerText()).toContain('404');
    await shot(page, 'job-failed-only');

    // Give db-01 the container, then rerun (POST /job/{id}/rerun, confirmed first): only db-01 runs the command again.
    await createContainer('db-01', 'ui-logs', ['sleep', '300']);
    const originalId = page.url().split('/job/')[1];
    await page.getByRole('button', { name: 'Rerun failed (1)' }).click();
    expect(await page.getByRole('dialog').innerText()).toContain('on 1 host(s): db-01');
    await page.getByRole('button', { name: 'Confirm rerun failed' }).click();
    await eventually(
      async () => page.url().split('/job/')[1],
      (value) => expect(value).not.toBe(originalId),
    );
    const rerunId = page.url().split('/job/')[1];
    await page.getByTestId('rerun-of').locator(`a[href="#/job/${originalId}"]`).waitFor(WAIT);
    const rerun = await api(fleet, 'GET', `/job/${rerunId}?wait=30`);
    expect(rerun.body).toMatchObject({ hosts: ['db-01'], status: 'ok', operation: 'docker.container.exec', rerun_of: originalId });
    const runsOn = async (host: string) => {
      const exec = await fleet
        .docker(host)
        .getContainer('ui-logs')
        .exec({ Cmd: ['cat', '/tmp/runs'], AttachStdout: true });
      const stream = await exec.start({});
      const chunks: Buffer[] = [];
      for await (const chunk of stream) chunks.push(chunk as Buffer);
      return (Buffer.concat(chunks).toString('latin1').match(/ran/g) ?? []).length;
    };
    // The engines say: each web host ran it once (the first job), db-01 once (the rerun).
    expect(await runsOn('db-01')).toBe(1);
    expect(await runsOn('web-01')).toBe(1);
    expect(await runsOn('web-02')).toBe(1);
    await eventually(
      () => page.locator('[data-view=job] tbody tr[data-status=ok]').count(),
      (value) => expect(value).toBe(1),
    );
    await shot(page, 'job-rerun');
    await page.close();
  });

  it('log follow shows a line written into the container after the page opened, with its host prefix', async () => {
    const page = await signedIn(fleet.mintKey('viewer'), '/logs');
    await submit(page, { Target: 'role:web', Container: 'ui-logs' }, 'Follow');
    await eventually(
      () => page.getByTestId('log-lines').innerText(),
      (value) => expect(value).toContain('booted'),
    );
    const marker = `written-after-open-${Date.now()}`;
    const exec = await fleet
      .docker('web-01')
      .getContainer('ui-logs')
      .exec({ Cmd: ['sh', '-c', `echo ${marker} > /proc/1/fd/1`] });
    await exec.start({});
    await eventually(
      () => page.getByTestId('log-lines').innerText(),
      (value) => expect(value).toContain(marker),
    );
    const line = await page.getByTestId('log-lines').locator('div', { hasText: marker }).innerText();
    expect(line.startsWith('web-01')).toBe(true);
    await page.getByLabel('Regex').fill('^written-after');
    await eventually(
      () => page.getByTestId('log-lines').locator('div').count(),
      (value) => expect(value).toBe(1),
    );
    await page.getByLabel('Regex').fill('');
    await shot(page, 'logs');
    await page.close();
  });

  it('the jobs list keeps its filters in the URL', async () => {
    // The partial job above is an exec: reading it needs docker:exec, which a viewer lacks.
    const page = await signedIn(fleet.mintKey('operator'), '/jobs');
    await page.locator('select[name=status]').selectOption('partial');
    await eventually(
      async () => page.url(),
      (value) => expect(value).toContain('status=partial'),
    );
    // The filtered page replaces the rows it was asked over (or a placeholder row) once it arrives.
    await eventually(
      () => page.locator('[data-view=jobs] tbody .badge').allTextContents(),
      (value) => expect(value).toEqual(expect.arrayContaining(['partial'])),
    );
    expect(new Set(await page.locator('[data-view=jobs] tbody .badge').allTextContents())).toEqual(new Set(['partial']));
    await shot(page, 'jobs');
    await page.close();
  });

  it('a job started through the REST API appears in the jobs list live, then turns ok', async () => {
    const { page, reloads } = await liveView('/jobs', '[data-view=jobs] .feed.live');
    const listed = await api(fleet, 'GET', '/node/_all/container/docker');
    const row = page.locator(`[data-view=jobs] tr[data-job="${listed.body.job_id}"]`);
    await row.waitFor(WAIT);
    await eventually(
      () => row.locator('.badge').textContent(),
      (value) => expect(value).toBe('ok'),
    );
    expect(reloads()).toBe(0);
    await shot(page, 'jobs-live');
    await page.close();
  });

  it('the fleet view counts running and stopped containers per agent as the engines do', async () => {
    const page = await signedIn(fleet.mintKey('viewer'));
    await page.locator('[data-view=fleet] .feed.live').waitFor(WAIT);
    for (const host of HOSTS) {
      const containers = await fleet.docker(host).listContainers({ all: true });
      const running = containers.filter((c) => c.State === 'running').length;
      await eventually(
        () => page.getByTestId(`counts-${host}`).innerText(),
        (value) => expect(value).toBe(`${running} running ${containers.length - running} stopped`),
      );
    }
    expect(await page.locator('[data-view=fleet] tr[data-host=web-01] .label').allTextContents()).toEqual(['role=web', 'zone=eu.west']);
    await shot(page, 'fleet-counts');
    await page.close();
  });

  it('the containers view groups by a label', async () => {
    const created = await api(fleet, 'POST', '/node/web-01/container/docker', {
      body: { image: IMAGE, name: 'ui-labelled', cmd: ['sleep', '300'], labels: { tier: 'front' }, auto_start: true },
    });
    expect(created.status).toBe(202);
    const page = await signedIn(fleet.mintKey('viewer'), '/containers');
    await page.locator('tr[data-name=ui-labelled]').waitFor(WAIT);
    await page.locator('select[name=group]').selectOption('label:tier');
    const groups = await page
      .locator('[data-view=containers] tr.group')
      .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-group')));
    expect(groups).toEqual(['', 'front']);
    // The labelled container sits under its group's header.
    const order = await page
      .locator('[data-view=containers] tbody tr')
      .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-group') ?? r.getAttribute('data-name')));
    expect(order[order.indexOf('front') + 1]).toBe('ui-labelled');
    await shot(page, 'containers-by-label');
    await page.close();
  });

  it('the containers view sorts by the column clicked, names first', async () => {
    await createContainer('web-02', 'ui-sort-a', ['sleep', '300']);
    await createContainer('db-01', 'ui-sort-b', ['sleep', '300']);
    const page = await signedIn(fleet.mintKey('viewer'), '/containers');
    await page.locator('select[name=group]').selectOption('none');
    await page.locator('input[name=filter]').fill('ui-sort');
    const rows = page.locator('[data-view=containers] tbody tr[data-host]');
    const shown = () => rows.evaluateAll((trs) => trs.map((tr) => `${tr.dataset.host} ${tr.dataset.name}`));
    await eventually(shown, (rows) => expect(rows).toEqual(['web-02 ui-sort-a', 'db-01 ui-sort-b']));
    await page.locator('[data-view=containers] th', { hasText: 'Host' }).click();
    expect(await shown()).toEqual(['db-01 ui-sort-b', 'web-02 ui-sort-a']);
    await page.locator('[data-view=containers] th', { hasText: 'Name' }).click();
    expect(await shown()).toEqual(['web-02 ui-sort-a', 'db-01 ui-sort-b']);
    await page.close();
  });

  it('stats draw a sparkline of CPU and memory per host for one container', async () => {
    const page = await signedIn(fleet.mintKey('viewer'), '/stats?target=_all&container=ui-exec');
    await page.locator('[data-view=stats]').waitFor(WAIT);
    await eventually(
      () =>
        page
          .locator('[data-view=stats] tbody tr')
          .evaluateAll((rows) => rows.map((r) => [r.getAttribute('data-host'), Number(r.getAttribute('data-samples'))])),
      (value) => {
        expect(value.map(([host]) => host)).toEqual(HOSTS);
        for (const [, samples] of value) expect(samples).toBeGreaterThanOrEqual(3);
      },
      60_000,
    );
    expect(await page.locator('[data-view=stats] svg.spark polyline').count()).toBe(6);
    // Work in the container on web-01 only: its CPU line rises, the idle hosts' stay flat at zero.
    const busy = await fleet
      .docker('web-01')
      .getContainer('ui-exec')
      .exec({ Cmd: ['sh', '-c', 'i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done'] });
    await busy.start({});
    await eventually(
      () => page.locator('[data-view=stats] tr[data-host=web-01]').getAttribute('data-cpu-max'),
      (value) => expect(Number(value)).toBeGreaterThan(5),
      60_000,
    );
    expect(Number(await page.locator('[data-view=stats] tr[data-host=db-01]').getAttribute('data-cpu-max'))).toBeLessThan(5);
    await shot(page, 'stats');
    await page.getByRole('button', { name: 'Stop' }).click();
    await page.close();
  });

  it('the events page shows engine events of the chosen hosts and type as they happen', async () => {
    const page = await signedIn(fleet.mintKey('viewer'), '/events?target=role:web&type=container&since=1');
    await eventually(
      () => page.getByTestId('events-status').textContent(),
      (value) => expect(value).toBe('following'),
    );
    await createContainer('_all', 'ui-event', ['sleep', '300']);
    await page.locator('[data-view=events] tr[data-host=web-01][data-action=create][data-name=ui-event]').waitFor(WAIT);
    await page.locator('[data-view=events] tr[data-host=web-02][data-action=start][data-name=ui-event]').waitFor(WAIT);
    const rows = await page
      .locator('[data-view=events] tbody tr')
      .evaluateAll((trs) => trs.map((r) => [r.getAttribute('data-host'), r.getAttribute('data-type')]));
    expect(new Set(rows.map(([host]) => host))).toEqual(new Set(['web-01', 'web-02']));
    expect(new Set(rows.map(([, type]) => type))).toEqual(new Set(['container']));
    await shot(page, 'events');
    await page.close();
  });

  it('an admin reads the audit log with its filters, creates a key shown once and revokes it', async () => {
    // A key never mints one outliving itself: this admin key lives longer than the hour asked for below.
    const page = await signedIn(fleet.mintKey('admin', { subject: 'ui-admin', ttlSeconds: 7200 }), '/admin');
    await page.locator('select[name=key-role]').selectOption('viewer');
    await page.locator('input[name=key-subject]').fill('ui-minted');
    await page.locator('input[name=key-scope]').fill('role:web');
    await page.locator('select[name=key-ttl]').selectOption('3600');
    await page.getByRole('button', { name: 'Create key' }).click();
    const minted = (await page.getByTestId('new-key').locator('pre').innerText()).trim();
    const who = await api(fleet, 'GET', '/whoami', { key: minted });
    expect(who.body).toMatchObject({ subject: 'ui-minted', role: 'viewer', scope: 'role:web' });
    expect(Date.parse(who.body.expires_at) - Date.now()).toBeLessThanOrEqual(3_600_000);
    await shot(page, 'admin-key-created');
    await page.getByRole('button', { name: 'Done' }).click();
    expect(await page.content()).not.toContain(minted);
    // Listed by the gateway (GET /token), with who minted it.
    expect(await page.locator(`tr[data-jti="${who.body.key_id}"] td`).allTextContents()).toEqual(
      expect.arrayContaining(['ui-minted', 'viewer', 'role:web', 'ui-admin']),
    );
    await page.locator(`tr[data-jti="${who.body.key_id}"]`).getByRole('button', { name: 'Revoke' }).click();
    await page.locator(`tr[data-jti="${who.body.key_id}"] .badge.failed`).waitFor(WAIT);
    expect((await api(fleet, 'GET', '/whoami', { key: minted })).status).toBe(401);

    // The audit log, filtered to this admin's DELETEs: the revocation and nothing else.
    await page.goto(`${fleet.url}/ui/#/admin?caller=ui-admin&method=DELETE`);
    await eventually(
      () => page.getByTestId('audit').locator('tbody tr td.path').allTextContents(),
      (value) => expect(value).toEqual([`DELETE /token/${who.body.key_id}`]),
    );
    await page.goto(`${fleet.url}/ui/#/admin?caller=ui-admin`);
    await eventually(
      () => page.getByTestId('audit').locator('tbody tr').count(),
      (value) => expect(value).toBeGreaterThan(3),
    );
    await shot(page, 'admin-audit');
    await page.close();
  });

  it('views a key cannot use are not offered; a scoped key sees only its own hosts', async () => {
    const viewer = await signedIn(fleet.mintKey('viewer'));
    expect(await viewer.locator('nav a').allTextContents()).toEqual(['Fleet', 'Containers', 'Jobs', 'Stacks', 'Logs', 'Stats', 'Events']);
    await viewer.close();
    const operator = await signedIn(fleet.mintKey('operator'));
    expect(await operator.locator('nav a').allTextContents()).toEqual([
      'Fleet',
      'Containers',
      'Exec',
      'Jobs',
      'Stacks',
      'Logs',
      'Stats',
      'Events',
    ]);
    await operator.close();
    const scoped = await signedIn(fleet.mintKey('admin', { scope: 'role:web' }));
    await eventually(
      () => scoped.locator('[data-view=fleet] tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-host'))),
      (value) => expect(value).toEqual(['web-01', 'web-02']),
    );
    await scoped.goto(`${fleet.url}/ui/#/containers`);
    await scoped.locator('[data-view=containers] tr[data-name=ui-exec]').first().waitFor(WAIT);
    const hosts = await scoped
      .locator('[data-view=containers] tr[data-host]')
      .evaluateAll((rows) => [...new Set(rows.map((r) => r.getAttribute('data-host')))]);
    expect(hosts.sort()).toEqual(['web-01', 'web-02']);
    expect(await scoped.content()).not.toContain('db-01');
    await shot(scoped, 'containers-scoped');
    // It mints keys inside its scope (the form starts with it), no longer than itself lives, but may revoke none
    // but itself: no Revoke offered.
    await scoped.goto(`${fleet.url}/ui/#/admin`);
    expect(await scoped.locator('select[name=key-ttl] option:not([disabled])').allTextContents()).toEqual(['as long as this key']);
    expect(await scoped.locator('input[name=key-scope]').inputValue()).toBe('role:web');
    await scoped.getByRole('button', { name: 'Create key' }).click();
    await scoped.getByTestId('new-key').waitFor(WAIT);
    expect(await scoped.getByRole('button', { name: 'Revoke' }).count()).toBe(0);
    await scoped.close();
  });

  it('no page made a request to anything but the gateway, and none threw', () => {
    expect(browser.requested.length).toBeGreaterThan(10);
    expect(
      browser.requested.filter((url) => !url.startsWith(`${fleet.url}/`) && !url.startsWith('data:') && !url.startsWith('blob:')),
    ).toEqual([]);
    expect(browser.pageErrors).toEqual([]);
  });
});
