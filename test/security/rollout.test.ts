/**
 * What rollouts open (README "Rollouts"), tried as an attacker: a viewer dry-running or rolling out a change, an
 * operator smuggling an exec into a host-level container through the exec gate, a scoped key reading the hosts
 * of a rollout outside its scope in its plan, its stop reason or its feed, and a dry run used to list hosts
 * outside a scope. Effects are checked on the engines (StartedAt, a file on the host) and in the job store.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import jwt from 'jsonwebtoken';
import { attack } from '../support/attacks';
import { api } from '../support/http';
import { EventStreamClient } from '../support/sse';
import { useTestFleet } from '../support/suite';

const fleet = useTestFleet();
const IMAGE = 'local/busybox:latest';
const HOSTS = ['db-01', 'web-01', 'web-02'];
let bindDir: string;

const startedAt = async (host: string, name: string) => (await fleet.docker(host).getContainer(name).inspect()).State.StartedAt;
const mentions = (body: unknown, text: string) => JSON.stringify(body).includes(text);

/** The job once its rollout ended: its last progress is stored just after its last row. */
async function ended(jobId: string): Promise<{ rollout: { state: string; paused_by?: string }; results: Array<{ status: string }> }> {
  await until(async () => (await api(fleet, 'GET', `/job/${jobId}?wait=30`)).body.rollout.state !== 'running');
  return (await api(fleet, 'GET', `/job/${jobId}`)).body;
}

async function until(condition: () => Promise<boolean>): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('the condition never held');
}

beforeAll(async () => {
  bindDir = mkdtempSync('/tmp/flt-rollout-bind-');
  for (const host of HOSTS) {
    const app = await fleet.docker(host).createContainer({ name: 'roll-app', Image: IMAGE, Cmd: ['sleep', '600'] });
    await app.start();
  }
  // An admin's container on web-01 that exposes a host directory: an operator must not run anything in it.
  const bound = await fleet
    .docker('web-01')
    .createContainer({ name: 'roll-bound', Image: IMAGE, Cmd: ['sleep', '600'], HostConfig: { Binds: [`${bindDir}:/host`] } });
  await bound.start();
});

afterAll(() => rmSync(bindDir, { recursive: true, force: true }));

describe('rollouts and dry runs', () => {
  attack('a viewer dry-runs a restart to learn the plan, then starts it in waves', async () => {
    const viewer = fleet.mintKey('viewer');
    const before = await startedAt('web-01', 'roll-app');
    const jobsBefore = (await api(fleet, 'GET', '/job?limit=100')).body.jobs.length;
    const dry = await api(fleet, 'POST', '/node/_all/container/docker/roll-app/restart?dry_run=true&batch=1', { key: viewer });
    expect(dry.status).toBe(403);
    expect(mentions(dry.body, 'waves')).toBe(false);
    const rollout = await api(fleet, 'POST', '/node/_all/container/docker/roll-app/restart?t=0&batch=1&max_failures=3', { key: viewer });
    expect(rollout.status).toBe(403);
    expect(await startedAt('web-01', 'roll-app')).toBe(before);
    expect((await api(fleet, 'GET', '/job?limit=100')).body.jobs.length).toBe(jobsBefore);
  });

  attack("an operator runs a command in an admin's host-bind container through the exec gate", async () => {
    const operator = fleet.mintKey('operator', { subject: 'attacker' });
    const res = await api(
      fleet,
      'POST',
      `/node/web-01/container/docker/roll-bound/restart?t=0&health_cmd=${encodeURIComponent('touch /host/pwned')}`,
      {
        key: operator,
      },
    );
    expect(res.status).toBe(409);
    expect(res.body.results[0]).toMatchObject({ status: 'failed', error_code: 412 });
    expect(res.body.results[0].gate).toContain('the exec gate was refused');
    expect(existsSync(join(bindDir, 'pwned'))).toBe(false);
  });

  attack("a role:web key reads db-01 out of a rollout's plan, stop reason and feed", async () => {
    // db-01 comes first and fails (no such container): the stop names its wave, never its host, to a scoped reader.
    await fleet.docker('db-01').getContainer('roll-app').remove({ force: true });
    const stopped = await api(fleet, 'POST', '/node/_all/container/docker/roll-app/restart?t=0&batch=1');
    expect(stopped.status).toBe(409);
    const scoped = fleet.mintKey('operator', { scope: 'role:web', subject: 'web-team' });
    const job = await api(fleet, 'GET', `/job/${stopped.body.job_id}`, { key: scoped });
    expect(job.status).toBe(200);
    expect(job.body.rollout.waves.map((wave: { hosts: string[] }) => wave.hosts)).toEqual([[], ['web-01'], ['web-02']]);
    expect(job.body.results.map((row: { hostname: string; status: string }) => [row.hostname, row.status])).toEqual([
      ['web-01', 'skipped'],
      ['web-02', 'skipped'],
    ]);
    expect(mentions(job.body, 'db-01')).toBe(false);
    const feed = new EventStreamClient(`${fleet.url}/feed/job/${stopped.body.job_id}`, { authorization: `Bearer ${scoped}` });
    await feed.finished();
    expect(feed.events.at(-1)?.event).toBe('end');
    expect(mentions(feed.events, 'db-01')).toBe(false);
  });

  attack('a key revoked mid-rollout still sends its later waves', async () => {
    const key = fleet.mintKey('operator', { subject: 'leaked' });
    const { jti } = jwt.decode(key) as { jti: string };
    const before = await startedAt('web-02', 'roll-app');
    const started = await api(fleet, 'POST', '/node/role:web/container/docker/roll-app/restart?t=0&batch=1&pause=3&async=true', { key });
    expect(started.status).toBe(202);
    const job = () => api(fleet, 'GET', `/job/${started.body.job_id}`);
    await until(async () => (await job()).body.rollout.paused_until !== undefined);
    expect((await api(fleet, 'DELETE', `/token/${jti}`)).status).toBe(200);
    await until(async () => (await job()).body.rollout.state !== 'running');
    const after = (await job()).body;
    expect(after.rollout).toMatchObject({
      state: 'stopped',
      stop_reason: 'rollout stopped before wave 2 of 2: the API key that started it was revoked',
    });
    expect(after.results.map((row: { hostname: string; status: string }) => [row.hostname, row.status])).toEqual([
      ['web-01', 'ok'],
      ['web-02', 'skipped'],
    ]);
    expect(await startedAt('web-02', 'roll-app')).toBe(before);
  });

  attack("a viewer pauses or aborts someone's rollout", async () => {
    const before = await startedAt('web-02', 'roll-app');
    const started = await api(fleet, 'POST', '/node/role:web/container/docker/roll-app/restart?t=0&batch=1&pause=2&async=true');
    expect(started.status).toBe(202);
    const jobId = started.body.job_id;
    for (const action of ['pause', 'abort']) {
      const viewer = await api(fleet, 'POST', `/job/${jobId}/${action}`, { key: fleet.mintKey('viewer') });
      expect(viewer.status).toBe(403);
    }
    const done = await ended(jobId);
    expect(done.rollout).toMatchObject({ state: 'completed' });
    expect(done.rollout.paused_by).toBeUndefined();
    expect(await startedAt('web-02', 'roll-app')).not.toBe(before);
  });

  attack('a role:web key aborts a fleet-wide rollout that reaches hosts outside its scope', async () => {
    const started = await api(
      fleet,
      'POST',
      '/node/_all/container/docker/roll-other/restart?t=0&batch=1&max_failures=3&pause=2&async=true',
    );
    expect(started.status).toBe(202);
    const scoped = fleet.mintKey('operator', { scope: 'role:web', subject: 'web-team' });
    const res = await api(fleet, 'POST', `/job/${started.body.job_id}/abort`, { key: scoped });
    expect(res.status).toBe(403);
    expect(mentions(res.body, 'db-01')).toBe(false);
    const done = await ended(started.body.job_id);
    expect(done.rollout.state).toBe('completed');
    expect(done.results.every((row: { status: string }) => row.status !== 'skipped')).toBe(true);
  });

  attack('a role:web key dry-runs _all and db-01 to list the hosts outside its scope', async () => {
    const scoped = fleet.mintKey('operator', { scope: 'role:web', subject: 'web-team' });
    for (const target of ['_all', 'db-01', 'role:db']) {
      const dry = await api(fleet, 'POST', `/node/${target}/container/docker/roll-app/restart?dry_run=true&batch=1`, { key: scoped });
      expect(dry.status).toBe(404);
      expect(mentions(dry.body, 'web-0')).toBe(false);
      if (target !== 'db-01') expect(mentions(dry.body, 'db-01')).toBe(false);
    }
    const inside = await api(fleet, 'POST', '/node/role:web/container/docker/roll-app/restart?dry_run=true&batch=1', { key: scoped });
    expect(inside.status).toBe(200);
    expect(inside.body.hosts).toEqual(['web-01', 'web-02']);
  });
});
