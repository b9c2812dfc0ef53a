/**
 * The SDK (`@fleet/sdk`) against a real fleet: typed calls checked on the
 * engines themselves, the typed errors each refusal throws, async jobs and
 * their polling, streams, and the untyped request the other suites' `api()`
 * helper is built on.
 */
import {
  BadRequestError,
  ConflictError,
  createFleetClient,
  type FleetClient,
  FleetApiError,
  FleetConnectionError,
  ForbiddenError,
  JobWaitTimeoutError,
  NotFoundError,
  type StreamEvent,
  UnauthorizedError,
} from '@fleet/sdk';
import { freePort } from '@fleet/deploy';
import { assertMatchesContract } from '../support/contract';
import { startTestFleet, type TestFleet } from '../support/fleet';
import { api } from '../support/http';

const IMAGE = 'local/busybox:latest';
const HOSTS = ['db-01', 'web-01', 'web-02'];
const LABELS = { 'fleet.test': 'sdk' };

let fleet: TestFleet;
let client: FleetClient;

beforeAll(async () => {
  fleet = await startTestFleet();
  client = createFleetClient({ url: fleet.url, apiKey: fleet.adminKey });
});

afterAll(async () => {
  await fleet?.stop();
});

/** Resolves with what `promise` rejects with; fails the test when it resolves. */
async function rejection(promise: Promise<unknown>): Promise<FleetApiError> {
  try {
    await promise;
  } catch (err) {
    return err as FleetApiError;
  }
  throw new Error('expected the call to be refused');
}

describe('typed node calls', () => {
  it('creates, lists, stops and removes containers; rows say what changed and the engines agree', async () => {
    const web = client.node('role:web');
    const created = await web.containers.create({ image: IMAGE, name: 'sdk-app', cmd: ['sleep', '300'], labels: LABELS, auto_start: true });
    assertMatchesContract('docker.container.create', 202, created);
    expect(created.results.map((row) => [row.hostname, row.status, row.changed])).toEqual([
      ['web-01', 'ok', true],
      ['web-02', 'ok', true],
    ]);
    for (const host of ['web-01', 'web-02']) expect((await fleet.docker(host).getContainer('sdk-app').inspect()).State.Running).toBe(true);

    const listed = await client.node('_all').containers.list({ all: true, filters: JSON.stringify({ label: ['fleet.test=sdk'] }) });
    assertMatchesContract('docker.container.list', 200, listed);
    expect(listed.results.map((row) => [row.hostname, row.containers?.length])).toEqual([
      ['db-01', 0],
      ['web-01', 1],
      ['web-02', 1],
    ]);

    const stopped = await web.containers.stop('sdk-app', { t: 1 });
    expect(stopped.results.map((row) => row.changed)).toEqual([true, true]);
    const again = await web.containers.stop('sdk-app', { t: 1 });
    expect(again.results.map((row) => [row.status, row.changed])).toEqual([
      ['ok', false],
      ['ok', false],
    ]);

    const inspected = await client.node('web-01').call('docker.container.inspect', { id: 'sdk-app' });
    expect(inspected.results[0]).toMatchObject({ hostname: 'web-01', status: 'ok', container: { Name: '/sdk-app' } });

    const removed = await web.containers.remove('sdk-app', { force: true });
    expect(removed.results.every((row) => row.status === 'ok' && row.changed)).toBe(true);
    await expect(fleet.docker('web-02').getContainer('sdk-app').inspect()).rejects.toMatchObject({ statusCode: 404 });
  });

  it('runs exec and keeps a failed host as a row on multi-host targets', async () => {
    const db = client.node('db-01');
    await db.containers.create({ image: IMAGE, name: 'sdk-exec', cmd: ['sleep', '300'], labels: LABELS, auto_start: true });
    const ran = await db.containers.exec('sdk-exec', { cmd: ['sh', '-c', 'echo hi; exit 4'] });
    expect(ran.results[0]).toMatchObject({ status: 'ok', exit_code: 4, stdout: 'hi\n' });

    const partial = await client.node('_all').containers.start('sdk-exec');
    expect(partial.results.map((row) => [row.hostname, row.status])).toEqual([
      ['db-01', 'ok'],
      ['web-01', 'failed'],
      ['web-02', 'failed'],
    ]);
    expect(partial.results[1]).toMatchObject({ error_code: 404, error: expect.stringMatching(/No such container/) });
  });

  it('encodes image names with slashes and label selectors in the path', async () => {
    const web = client.node('role:web,zone:eu');
    const tagged = await web.call('docker.image.tag', { image: IMAGE, repo: 'local/sdk-copy', tag: 'v1' });
    expect(tagged.results.map((row) => [row.hostname, row.status])).toEqual([['web-01', 'ok']]);
    const removed = await web.images.remove('local/sdk-copy:v1');
    expect(removed.results[0]).toMatchObject({ hostname: 'web-01', status: 'ok', changed: true });
    await expect(fleet.docker('web-01').getImage('local/sdk-copy:v1').inspect()).rejects.toMatchObject({ statusCode: 404 });

    const audit = await client.audit.list({ method: 'DELETE', limit: 5 });
    expect(audit.entries[0].path).toBe('/node/role:web,zone:eu/container/docker/image/local%2Fsdk-copy:v1');
  });

  it('streams server-sent events and ends with the rows', async () => {
    const events: StreamEvent[] = [];
    const until = Math.floor(Date.now() / 1000);
    for await (const event of client.node('role:web').stream('docker.system.events', { since: 0, until }, { timeout: 20 }))
      events.push(event);
    // Not asserted to come first: the gateway can relay replayed engine events (since=0) before it sends `job`.
    expect(events.find((event) => event.event === 'job')).toMatchObject({ data: { hosts: ['web-01', 'web-02'] } });
    expect(events.some((event) => event.event === 'docker' && event.data.hostname === 'web-01' && event.data.Type === 'container')).toBe(
      true,
    );
    const end = events.at(-1);
    expect(end?.event).toBe('end');
    expect(end?.data.results.map((row: { hostname: string; status: string }) => [row.hostname, row.status])).toEqual([
      ['web-01', 'ok'],
      ['web-02', 'ok'],
    ]);
  });
});

describe('typed errors', () => {
  it('401 UnauthorizedError for a missing or invalid key', async () => {
    const missing = await rejection(createFleetClient({ url: fleet.url }).agents.list());
    expect(missing).toBeInstanceOf(UnauthorizedError);
    expect(missing).toMatchObject({ status: 401, code: 401, reason: 'unauthenticated', error: 'Unauthorized - API key required' });

    const invalid = await rejection(
      createFleetClient({ url: fleet.url, apiKey: fleet.mintKey('admin', { ttlSeconds: -10 }) })
        .node('_all')
        .containers.list(),
    );
    expect(invalid).toBeInstanceOf(UnauthorizedError);
    expect(invalid.message).toMatch(/expired/i);
  });

  it('403 ForbiddenError naming the missing permission', async () => {
    const viewer = createFleetClient({ url: fleet.url, apiKey: fleet.mintKey('viewer') });
    const err = await rejection(viewer.node('_all').containers.create({ image: IMAGE, labels: LABELS }));
    expect(err).toBeInstanceOf(ForbiddenError);
    expect(err).toMatchObject({ status: 403, error: 'Forbidden - Insufficient permissions' });
    expect(err.details).toContain('docker:write');
    expect((await viewer.node('_all').containers.list()).results).toHaveLength(3);
  });

  it('400 BadRequestError naming the bad part; 404 NotFoundError for no match and unknown jobs', async () => {
    const bad = await rejection(client.node('role:we$b').containers.list());
    expect(bad).toBeInstanceOf(BadRequestError);
    expect(bad.details).toContain("'we$b'");

    const badQuery = await rejection(client.node('_all').containers.list({ limit: 0 }));
    expect(badQuery).toBeInstanceOf(BadRequestError);
    expect(badQuery.details).toContain('limit');

    const none = await rejection(client.node('role:nope').containers.list());
    expect(none).toBeInstanceOf(NotFoundError);
    expect(none).toMatchObject({
      status: 404,
      error: 'no agent matches target',
      details: "target 'role:nope' matched 0 of 3 live agents",
      jobId: undefined,
    });

    expect(await rejection(client.jobs.get('6f1c2a52-93a4-4c5e-9d55-8a0a3f2b8c11'))).toBeInstanceOf(NotFoundError);
    expect(await rejection(client.agents.get('web-99'))).toBeInstanceOf(NotFoundError);
  });

  it('a single-host failure throws by its status and carries the job id', async () => {
    const db = client.node('db-01');
    await db.containers.create({ image: IMAGE, name: 'sdk-dup', labels: LABELS });
    const conflict = await rejection(db.containers.create({ image: IMAGE, name: 'sdk-dup', labels: LABELS }));
    expect(conflict).toBeInstanceOf(ConflictError);
    expect(conflict.status).toBe(409);
    expect(conflict.jobId).toMatch(/^[0-9a-f-]{36}$/);
    const job = await client.jobs.get(conflict.jobId as string);
    expect(job).toMatchObject({ operation: 'docker.container.create', status: 'failed' });

    const missing = await rejection(db.containers.inspect('sdk-nosuch'));
    expect(missing).toBeInstanceOf(NotFoundError);
    expect(missing.jobId).toBeDefined();
  });

  it('FleetConnectionError when nothing listens', async () => {
    const nowhere = createFleetClient({ url: `http://127.0.0.1:${await freePort()}`, apiKey: fleet.adminKey });
    await expect(nowhere.agents.list()).rejects.toBeInstanceOf(FleetConnectionError);
  });
});

describe('jobs, agents, tokens', () => {
  it('submits an async job and waits for it by long-polling', async () => {
    const accepted = await client.node('_all').submit('docker.container.list', { all: true });
    expect(accepted.status).toBe('pending');
    const job = await client.jobs.wait(accepted.job_id, { timeoutMs: 60_000 });
    expect(job).toMatchObject({ job_id: accepted.job_id, status: 'ok', hosts: HOSTS, operation: 'docker.container.list' });
    expect(job.results.map((row) => row.status)).toEqual(['ok', 'ok', 'ok']);

    const listed = await client.jobs.list({ operation: 'docker.container.list', limit: 200 });
    expect(listed.jobs.map((entry) => entry.job_id)).toContain(accepted.job_id);
  });

  it('gives up waiting with JobWaitTimeoutError carrying the job as last seen', async () => {
    const web01 = client.node('web-01');
    await web01.containers.create({ image: IMAGE, name: 'sdk-waited', cmd: ['sleep', '300'], labels: LABELS, auto_start: true });
    // Waits until the container stops, which only the removal below makes it do.
    const accepted = await web01.submit('docker.container.wait', { id: 'sdk-waited', condition: 'not-running' }, { timeout: 60 });
    const err = await client.jobs.wait(accepted.job_id, { timeoutMs: 1_500, pollSeconds: 1 }).catch((caught: unknown) => caught);
    expect(err).toBeInstanceOf(JobWaitTimeoutError);
    expect((err as JobWaitTimeoutError).job).toMatchObject({
      job_id: accepted.job_id,
      status: expect.stringMatching(/^(pending|running)$/),
    });

    await web01.containers.remove('sdk-waited', { force: true });
    const finished = await client.jobs.wait(accepted.job_id, { timeoutMs: 60_000 });
    expect(finished.results[0]).toMatchObject({ hostname: 'web-01', status: 'ok', exit_code: expect.any(Number) });
  });

  it('drains and undrains agents', async () => {
    expect((await client.agents.drain('web-02')).drained).toBe(true);
    try {
      expect((await client.node('role:web').containers.list()).results.map((row) => row.hostname)).toEqual(['web-01']);
      expect((await client.agents.list()).agents.find((agent) => agent.hostname === 'web-02')?.drained).toBe(true);
    } finally {
      expect((await client.agents.undrain('web-02')).drained).toBe(false);
    }
  });

  it('revokes a key: the next request with it is refused', async () => {
    const key = fleet.mintKey('operator');
    const holder = createFleetClient({ url: fleet.url, apiKey: key });
    expect((await holder.agents.list()).agents).toHaveLength(3);
    const jti = JSON.parse(Buffer.from(key.split('.')[1], 'base64url').toString('utf8')).jti;
    expect(await client.tokens.revoke(jti)).toEqual({ jti, revoked: true });
    const refused = await rejection(holder.agents.list());
    expect(refused).toBeInstanceOf(UnauthorizedError);
    expect(refused.message).toMatch(/revoked/i);
  });
});

describe("untyped requests (what the suites' api() helper uses)", () => {
  it('returns any status with the parsed body and headers, through the same client', async () => {
    const raw = await client.raw('GET', '/node/role:nope/container/docker');
    expect(raw).toMatchObject({ status: 404, body: { error: 'no agent matches target', code: 404, reason: 'target_empty' } });
    expect(raw.headers['content-type']).toContain('application/json');

    const viaHelper = await api(fleet, 'GET', '/agent');
    expect(viaHelper.status).toBe(200);
    expect(viaHelper.body.agents.map((agent: { hostname: string }) => agent.hostname).sort()).toEqual(HOSTS);

    const noKey = await api(fleet, 'GET', '/agent', { key: null, headers: { 'x-api-key': fleet.mintKey('viewer') } });
    expect(noKey.status).toBe(200);
    const text = await api(fleet, 'GET', '/health', { key: null });
    expect(text).toMatchObject({ status: 200, body: { status: 'ok' } });
  });
});

/** Compile-time checks: `tsc --noEmit` fails if the SDK's types stop following the contract. Never run. */
export function typeChecks(fleetClient: FleetClient): void {
  const node = fleetClient.node('_all');
  // @ts-expect-error: not an operation of the contract
  void node.call('docker.container.teleport');
  // @ts-expect-error: `all` is a boolean
  void node.containers.list({ all: 'yes' });
  // @ts-expect-error: `bogus` is no query parameter of docker.container.list
  void node.call('docker.container.list', { bogus: true });
  // @ts-expect-error: a container needs an image
  void node.containers.create({ name: 'x' });
  // @ts-expect-error: inspect needs the container id
  void node.call('docker.container.inspect', {});
  void node.call('docker.image.remove', { image: 'nginx:1.27', force: true }).then((res) => res.results[0].hostname.toUpperCase());
  void node.containers.list().then((res) => res.results[0].containers?.length);
  void fleetClient.jobs.list({ status: 'partial', limit: 10 });
  // @ts-expect-error: not a job status
  void fleetClient.jobs.list({ status: 'exploded' });
}
