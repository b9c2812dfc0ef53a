/**
 * The job fabric end to end: real nats-server (JetStream), three real dockerd
 * engines, the real gateway and agents, real HTTP. Engine state is checked
 * directly on each engine, never through the gateway alone.
 */
import { assertMatchesContract } from '../support/contract';
import { useTestFleet } from '../support/suite';
import { api, type ApiResponse, errorBody, forbiddenBody } from '../support/http';

const IMAGE = 'local/busybox:latest';
const HOSTS = ['db-01', 'web-01', 'web-02'];

const fleet = useTestFleet();

/** Containers carrying `fleet.test=<run>` on each engine, read from the engines themselves. */
async function containersByHost(run: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const host of HOSTS) {
    const found = await fleet.docker(host).listContainers({ all: true, filters: JSON.stringify({ label: [`fleet.test=${run}`] }) });
    counts[host] = found.length;
  }
  return counts;
}

function createBody(run: string, extra: Record<string, unknown> = {}) {
  return { image: IMAGE, cmd: ['sleep', '300'], labels: { 'fleet.test': run }, ...extra };
}

describe('targets', () => {
  it('lists containers on _all: 200, one ok row per agent, sorted by hostname', async () => {
    const res = await api(fleet, 'GET', '/node/_all/container/docker');
    expect(res.status).toBe(200);
    assertMatchesContract('docker.container.list', 200, res.body);
    expect(res.body.results.map((row: { hostname: string }) => row.hostname)).toEqual(HOSTS);
    for (const row of res.body.results) {
      expect(row).toMatchObject({ status: 'ok', changed: false });
      expect(Array.isArray(row.containers)).toBe(true);
    }
  });

  it('runs a create on _any on exactly one engine each time, spread over the agents', async () => {
    const run = 'any';
    for (let i = 0; i < 6; i++) {
      const res = await api(fleet, 'POST', '/node/_any/container/docker', { body: createBody(run) });
      expect(res.status).toBe(202);
      assertMatchesContract('docker.container.create', 202, res.body);
      expect(res.body.results).toHaveLength(1);
      expect(res.body.results[0]).toMatchObject({ status: 'ok', changed: true });
      const counts = await containersByHost(run);
      expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(i + 1);
    }
    const counts = await containersByHost(run);
    expect(Object.values(counts).filter((n) => n > 0).length).toBeGreaterThan(1);
  });

  it('reaches exactly the hosts a label selector names', async () => {
    const res = await api(fleet, 'POST', '/node/role:web/container/docker', { body: createBody('role-web') });
    expect(res.status).toBe(202);
    expect(res.body.results.map((row: { hostname: string }) => row.hostname)).toEqual(['web-01', 'web-02']);
    expect(await containersByHost('role-web')).toEqual({ 'db-01': 0, 'web-01': 1, 'web-02': 1 });
  });

  it('ANDs comma-separated selectors, with hierarchical values', async () => {
    const res = await api(fleet, 'POST', '/node/role:web,zone:eu/container/docker', { body: createBody('web-eu') });
    expect(res.status).toBe(202);
    expect(res.body.results.map((row: { hostname: string }) => row.hostname)).toEqual(['web-01']);
    expect(await containersByHost('web-eu')).toEqual({ 'db-01': 0, 'web-01': 1, 'web-02': 0 });

    const zone = await api(fleet, 'GET', '/node/zone:eu.west/container/docker');
    expect(zone.body.results.map((row: { hostname: string }) => row.hostname)).toEqual(['db-01', 'web-01']);
  });

  it('answers 404 with the match count when no agent matches, and 400 naming the bad part of a selector', async () => {
    const none = await api(fleet, 'GET', '/node/role:nope/container/docker');
    expect(none.status).toBe(404);
    const details = "target 'role:nope' matched 0 of 3 live agents";
    expect(none.body).toEqual(errorBody({ code: 404, reason: 'target_empty', error: 'no agent matches target', details }));

    const unknownHost = await api(fleet, 'GET', '/node/web-99/container/docker');
    expect(unknownHost.status).toBe(404);
    expect(unknownHost.body.details).toBe("target 'web-99' matched 0 of 3 live agents");

    for (const [target, bad] of [
      ['role:we$b', "'we$b'"],
      ['role:web,', "selector ''"],
      ['a:b.%3E', "'>'"],
      ['ro*le:web', "'ro*le'"],
    ]) {
      const res = await api(fleet, 'GET', `/node/${target}/container/docker`);
      expect(res.status).toBe(400);
      assertMatchesContract('docker.container.list', 400, res.body);
      expect(res.body.code).toBe(400);
      expect(res.body.details).toContain(bad);
    }
  });

  it('leaves drained agents out of groups but lets their hostname reach them', async () => {
    const drained = await api(fleet, 'POST', '/agent/web-02/drain');
    expect(drained.status).toBe(200);
    expect(drained.body).toMatchObject({ hostname: 'web-02', drained: true });
    try {
      const all = await api(fleet, 'GET', '/node/_all/container/docker');
      expect(all.body.results.map((row: { hostname: string }) => row.hostname)).toEqual(['db-01', 'web-01']);
      const web = await api(fleet, 'GET', '/node/role:web/container/docker');
      expect(web.body.results.map((row: { hostname: string }) => row.hostname)).toEqual(['web-01']);
      const direct = await api(fleet, 'GET', '/node/web-02/container/docker');
      expect(direct.status).toBe(200);
      expect(direct.body.results).toEqual([expect.objectContaining({ hostname: 'web-02', status: 'ok' })]);
    } finally {
      const undrained = await api(fleet, 'POST', '/agent/web-02/undrain');
      expect(undrained.body.drained).toBe(false);
    }
    const all = await api(fleet, 'GET', '/node/_all/container/docker');
    expect(all.body.results).toHaveLength(3);
  });
});

describe('container lifecycle and truthful results', () => {
  const OK_UNCHANGED_ON_BOTH = [
    ['ok', false],
    ['ok', false],
  ];
  const lifeRunning = async (host: string) => (await fleet.docker(host).getContainer('life').inspect()).State.Running;
  const statusAndChanged = (res: ApiResponse) => res.body.results.map((r: { changed: boolean; status: string }) => [r.status, r.changed]);

  it('creates, stops, restarts and removes with changed telling whether the engine state moved', async () => {
    const created = await api(fleet, 'POST', '/node/role:web/container/docker', {
      body: createBody('life', { name: 'life', auto_start: true }),
    });
    expect(created.status).toBe(202);
    expect(await Promise.all(['web-01', 'web-02'].map(lifeRunning))).toEqual([true, true]);

    const startAgain = await api(fleet, 'POST', '/node/role:web/container/docker/life/start');
    expect(statusAndChanged(startAgain)).toEqual(OK_UNCHANGED_ON_BOTH);

    const stop = await api(fleet, 'POST', '/node/role:web/container/docker/life/stop?t=1');
    assertMatchesContract('docker.container.stop', 202, stop.body);
    expect(stop.body.results.map((r: { changed: boolean }) => r.changed)).toEqual([true, true]);
    expect(await Promise.all(['web-01', 'web-02'].map(lifeRunning))).toEqual([false, false]);

    const stopAgain = await api(fleet, 'POST', '/node/role:web/container/docker/life/stop?t=1');
    expect(statusAndChanged(stopAgain)).toEqual(OK_UNCHANGED_ON_BOTH);

    const inspect = await api(fleet, 'GET', '/node/web-01/container/docker/life');
    expect(inspect.status).toBe(200);
    expect(inspect.body.results[0].container.Config.Labels['fleet.test']).toBe('life');

    const removed = await api(fleet, 'DELETE', '/node/role:web/container/docker/life');
    expect(removed.body.results.every((r: { changed: boolean }) => r.changed)).toBe(true);
    await expect(fleet.docker('web-01').getContainer('life').inspect()).rejects.toMatchObject({ statusCode: 404 });
  });

  it('maps a single host engine error to the HTTP status: 404 missing, 409 name conflict', async () => {
    const missing = await api(fleet, 'POST', '/node/web-01/container/docker/nosuch/start');
    expect(missing.status).toBe(404);
    assertMatchesContract('docker.container.start', 404, missing.body);
    expect(missing.body.error).toMatch(/No such container/i);

    await api(fleet, 'POST', '/node/db-01/container/docker', { body: createBody('dup', { name: 'dup' }) });
    const conflict = await api(fleet, 'POST', '/node/db-01/container/docker', { body: createBody('dup', { name: 'dup' }) });
    expect(conflict.status).toBe(409);
    expect(conflict.body).toMatchObject({ code: 409, job_id: expect.any(String) });
    expect(conflict.body.details).toContain('db-01');
  });

  it('keeps per-host errors in the rows of a multi-host call', async () => {
    await api(fleet, 'POST', '/node/web-01/container/docker', { body: createBody('partial', { name: 'only-here' }) });
    const res = await api(fleet, 'POST', '/node/role:web/container/docker/only-here/start');
    expect(res.status).toBe(202);
    expect(res.body.results).toEqual([
      expect.objectContaining({ hostname: 'web-01', status: 'ok', changed: true }),
      expect.objectContaining({ hostname: 'web-02', status: 'failed', changed: false, error: expect.stringMatching(/No such container/) }),
    ]);
  });
});

describe('the seed route: DELETE /node/{target}/container/docker/image/{image}', () => {
  it('removes a URL-encoded image on every host, then reports it absent with changed:false', async () => {
    for (const host of HOSTS) await fleet.docker(host).getImage(IMAGE).tag({ repo: 'local/victim', tag: '1' });

    const first = await api(fleet, 'DELETE', '/node/_all/container/docker/image/local%2Fvictim:1');
    expect(first.status).toBe(202);
    assertMatchesContract('docker.image.remove', 202, first.body);
    expect(first.body.job_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(first.body.results.map((r: { hostname: string }) => r.hostname)).toEqual(HOSTS);
    for (const row of first.body.results) expect(row).toMatchObject({ status: 'ok', changed: true, message: expect.any(String) });
    for (const host of HOSTS)
      await expect(fleet.docker(host).getImage('local/victim:1').inspect()).rejects.toMatchObject({ statusCode: 404 });
    // The image it was a tag of is still there: only the tag went.
    for (const host of HOSTS) await expect(fleet.docker(host).getImage(IMAGE).inspect()).resolves.toBeDefined();

    const second = await api(fleet, 'DELETE', '/node/_all/container/docker/image/local%2Fvictim:1');
    expect(second.status).toBe(202);
    for (const row of second.body.results) {
      expect(row).toMatchObject({ status: 'failed', changed: false, error: 'No such image: local/victim:1' });
    }
  });

  it('refuses to remove an image in use without force (409 on one host)', async () => {
    const res = await api(fleet, 'DELETE', `/node/web-01/container/docker/image/${encodeURIComponent(IMAGE)}`);
    expect(res.status).toBe(409);
    expect(res.body.error).toMatch(/conflict|being used|in use/i);
  });
});

describe('API keys and errors', () => {
  it('answers 401 without a key and with a bad one', async () => {
    const none = await api(fleet, 'GET', '/node/_all/container/docker', { key: null });
    expect(none.status).toBe(401);
    expect(none.body).toEqual(errorBody({ code: 401, reason: 'unauthenticated', error: 'Unauthorized - API key required' }));

    const expired = await api(fleet, 'GET', '/agent', { key: fleet.mintKey('admin', { ttlSeconds: -10 }) });
    expect(expired.status).toBe(401);
    expect(expired.body.error).toBe('Unauthorized - API key expired');
  });

  it('accepts the key as X-API-Key too', async () => {
    const res = await api(fleet, 'GET', '/agent', { key: null, headers: { 'x-api-key': fleet.mintKey('viewer') } });
    expect(res.status).toBe(200);
    assertMatchesContract('agent.list', 200, res.body);
    expect(res.body.agents.map((a: { hostname: string }) => a.hostname)).toEqual(HOSTS);
  });

  it('answers 403 naming docker:write when a viewer key mutates, and runs nothing', async () => {
    const viewer = fleet.mintKey('viewer');
    const res = await api(fleet, 'POST', '/node/_all/container/docker', { key: viewer, body: createBody('forbidden') });
    expect(res.status).toBe(403);
    expect(res.body).toEqual(forbiddenBody('docker:write'));
    expect(await containersByHost('forbidden')).toEqual({ 'db-01': 0, 'web-01': 0, 'web-02': 0 });

    const read = await api(fleet, 'GET', '/node/_all/container/docker', { key: viewer });
    expect(read.status).toBe(200);
  });

  it('refuses calls outside a scoped key, including via _all', async () => {
    const scoped = fleet.mintKey('operator', { scope: 'role:web' });
    expect((await api(fleet, 'GET', '/node/role:web/container/docker', { key: scoped })).status).toBe(200);
    const all = await api(fleet, 'GET', '/node/_all/container/docker', { key: scoped });
    expect(all.status).toBe(404);
    // Hosts outside the scope are neither named nor counted.
    expect(all.body.details).toBe("no host of this key's scope 'role:web' matches this target");
  });

  it('answers 400 naming the field for invalid input', async () => {
    const cases: Array<[string, string, unknown, string]> = [
      ['GET', '/node/_all/container/docker?limit=abc', undefined, 'limit'],
      ['GET', '/node/_all/container/docker?bogus=1', undefined, 'bogus'],
      ['GET', '/node/_all/container/docker?timeout=301', undefined, 'timeout'],
      ['GET', '/node/_all/container/docker?filters=notjson', undefined, 'filters'],
      ['POST', '/node/_all/container/docker', { image: 1 }, 'image'],
      ['POST', '/node/_all/container/docker', { image: IMAGE, surprise: true }, 'surprise'],
    ];
    for (const [method, path, body, field] of cases) {
      const res = await api(fleet, method, path, { body });
      expect({ path, status: res.status }).toEqual({ path, status: 400 });
      expect(res.body.details).toContain(field);
      expect(res.body).toMatchObject({ error: expect.any(String), code: 400 });
    }
  });
});

describe('jobs', () => {
  it('answers at once in async mode and long-polls the job to completion', async () => {
    const accepted = await api(fleet, 'POST', '/node/_all/container/docker?async=true', { body: createBody('async') });
    expect(accepted.status).toBe(202);
    assertMatchesContract('docker.container.create', 202, accepted.body);
    expect(accepted.body).toEqual({ job_id: expect.any(String), status: 'pending' });

    const job = await api(fleet, 'GET', `/job/${accepted.body.job_id}?wait=20`);
    expect(job.status).toBe(200);
    assertMatchesContract('job.get', 200, job.body);
    expect(job.body).toMatchObject({
      job_id: accepted.body.job_id,
      operation: 'docker.container.create',
      target: '_all',
      hosts: HOSTS,
      status: 'ok',
    });
    expect(job.body.results.map((r: { status: string }) => r.status)).toEqual(['ok', 'ok', 'ok']);
    expect(await containersByHost('async')).toEqual({ 'db-01': 1, 'web-01': 1, 'web-02': 1 });

    const preferred = await api(fleet, 'GET', '/node/_all/container/docker', { headers: { prefer: 'respond-async' } });
    expect(preferred.status).toBe(202);
    expect(preferred.body.status).toBe('pending');
  });

  it('lists jobs newest first with filters and pagination', async () => {
    const page1 = await api(fleet, 'GET', '/job?limit=2&operation=docker.container.create');
    expect(page1.status).toBe(200);
    assertMatchesContract('job.list', 200, page1.body);
    expect(page1.body.jobs).toHaveLength(2);
    expect(page1.body.jobs.every((j: { operation: string }) => j.operation === 'docker.container.create')).toBe(true);
    const [newer, older] = page1.body.jobs.map((j: { created_at: string }) => Date.parse(j.created_at));
    expect(newer).toBeGreaterThanOrEqual(older);

    const page2 = await api(fleet, 'GET', `/job?limit=2&operation=docker.container.create&cursor=${page1.body.next_cursor}`);
    expect(page2.body.jobs).toHaveLength(2);
    const ids = new Set([...page1.body.jobs, ...page2.body.jobs].map((j: { job_id: string }) => j.job_id));
    expect(ids.size).toBe(4);

    const failed = await api(fleet, 'GET', '/job?status=partial');
    expect(failed.body.jobs.length).toBeGreaterThan(0);
    expect(failed.body.jobs.every((j: { status: string }) => j.status === 'partial')).toBe(true);
  });

  it('answers 404 for an unknown job and 400 for a malformed id', async () => {
    expect((await api(fleet, 'GET', '/job/6f1c2a52-93a4-4c5e-9d55-8a0a3f2b8c11')).status).toBe(404);
    const bad = await api(fleet, 'GET', '/job/not-a-uuid');
    expect(bad.status).toBe(400);
    expect(bad.body.details).toContain('job_id');
  });
});
