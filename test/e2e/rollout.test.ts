/**
 * Rollouts on three real engines (README "Rollouts"): a node call with wave parameters runs wave by wave in
 * hostname order, stops once its failures exceed `max_failures`, leaves every host it never reached with a
 * `skipped` row and nothing sent there (checked on the engines: their containers' StartedAt does not move), and
 * answers 409 when it stopped. A health gate checked by each agent stops it too; a dry run sends nothing.
 */
import jwt from 'jsonwebtoken';
import { EventStreamClient } from '../support/sse';
import { api } from '../support/http';
import { useTestFleet } from '../support/suite';

const fleet = useTestFleet();
const HOSTS = ['db-01', 'web-01', 'web-02'];
const IMAGE = 'local/busybox:latest';
const HEALTH_IMAGE = 'local/health:1';

async function runContainer(host: string, name: string, image = IMAGE): Promise<void> {
  const container = await fleet.docker(host).createContainer({ name, Image: image, Cmd: ['sleep', '3600'] });
  await container.start();
}

async function startedAt(host: string, name: string): Promise<string> {
  return (await fleet.docker(host).getContainer(name).inspect()).State.StartedAt;
}

async function startedAtOn(hosts: string[], name: string): Promise<Record<string, string>> {
  return Object.fromEntries(await Promise.all(hosts.map(async (host) => [host, await startedAt(host, name)])));
}

/** An image whose HEALTHCHECK passes, or (`failing`) never does: a commit of busybox with the instruction. */
async function healthImage(host: string, failing: boolean): Promise<void> {
  const docker = fleet.docker(host);
  const container = await docker.createContainer({ Image: IMAGE, Cmd: ['true'] });
  const check = failing ? 'false' : 'true';
  await container.commit({ repo: 'local/health', tag: '1', changes: `HEALTHCHECK --interval=1s --timeout=1s --retries=1 CMD ${check}` });
  await container.remove();
}

function rowsByHost(body: { results: Array<{ hostname: string }> }): Record<string, Record<string, unknown>> {
  return Object.fromEntries(body.results.map((row) => [row.hostname, row]));
}

describe('a restart in waves of one host, the first host in order missing its container', () => {
  beforeAll(async () => {
    // db-01 comes first in hostname order and has no `app-a`: its restart fails with 404.
    await Promise.all(['web-01', 'web-02'].map((host) => runContainer(host, 'app-a')));
  });
  afterAll(() => fleet.removeContainers(HOSTS, ['app-a']));

  it('with max_failures=0 stops after the first wave: 409, the others skipped, their containers untouched on the engines', async () => {
    const before = await startedAtOn(['web-01', 'web-02'], 'app-a');
    const res = await api(fleet, 'POST', '/node/_all/container/docker/app-a/restart?t=0&batch=1&max_failures=0&timeout=20');

    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({
      error: 'rollout stopped',
      code: 409,
      reason: 'rollout_stopped',
      rollout: { state: 'stopped', failures: 1, max_failures: 0 },
    });
    expect(res.body.details).toContain('after wave 1 of 3');
    expect(res.body.rollout.waves.map((wave: { hosts: string[]; state: string }) => [wave.hosts, wave.state])).toEqual([
      [['db-01'], 'failed'],
      [['web-01'], 'skipped'],
      [['web-02'], 'skipped'],
    ]);
    const rows = rowsByHost(res.body);
    expect(rows['db-01']).toMatchObject({ status: 'failed', error_code: 404, wave: 1 });
    for (const [host, wave] of [
      ['web-01', 2],
      ['web-02', 3],
    ] as const) {
      expect(rows[host]).toMatchObject({ status: 'skipped', changed: false, wave });
      expect(rows[host].skipped_reason).toBe(res.body.details);
    }
    expect(await startedAtOn(['web-01', 'web-02'], 'app-a')).toEqual(before);

    // The job record holds the same plan and progress, and the skipped rows, for any later reader.
    const job = await api(fleet, 'GET', `/job/${res.body.job_id}`);
    expect(job.body.rollout).toMatchObject({ state: 'stopped', stop_reason: res.body.details });
    expect(job.body.results.map((row: { status: string }) => row.status)).toEqual(['failed', 'skipped', 'skipped']);
  });

  it('with max_failures=1 goes on and finishes: 202, both containers restarted, wave 2 before wave 3', async () => {
    const before = await startedAtOn(['web-01', 'web-02'], 'app-a');
    const res = await api(fleet, 'POST', '/node/_all/container/docker/app-a/restart?t=0&batch=1&max_failures=1&timeout=20');

    expect(res.status).toBe(202);
    expect(res.body.rollout).toMatchObject({ state: 'completed', failures: 1, max_failures: 1 });
    expect(res.body.rollout.waves.map((wave: { state: string }) => wave.state)).toEqual(['failed', 'passed', 'passed']);
    const rows = rowsByHost(res.body);
    expect(rows['db-01']).toMatchObject({ status: 'failed', error_code: 404 });
    expect(rows['web-01']).toMatchObject({ status: 'ok', changed: true, wave: 2 });
    expect(rows['web-02']).toMatchObject({ status: 'ok', changed: true, wave: 3 });
    const after = await startedAtOn(['web-01', 'web-02'], 'app-a');
    expect(after['web-01']).not.toBe(before['web-01']);
    expect(after['web-02']).not.toBe(before['web-02']);
    // Wave 3 was sent only once wave 2 had ended.
    expect(Date.parse(after['web-02'])).toBeGreaterThan(Date.parse(after['web-01']));
  });

  it('a dry run answers the hosts and the waves, and sends nothing: no job stored, no container restarted', async () => {
    const before = await startedAtOn(['web-01', 'web-02'], 'app-a');
    const jobsBefore = await api(fleet, 'GET', '/job?operation=docker.container.restart&limit=100');
    const res = await api(fleet, 'POST', '/node/_all/container/docker/app-a/restart?t=0&dry_run=true&batch=2&canary=1');

    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ dry_run: true, operation: 'docker.container.restart', target: '_all', hosts: HOSTS });
    expect(res.body.rollout.waves.map((wave: { hosts: string[] }) => wave.hosts)).toEqual([['db-01'], ['web-01', 'web-02']]);
    expect(res.body.rollout.waves[0].canary).toBe(true);
    const plain = await api(fleet, 'POST', '/node/role:web/container/docker/app-a/restart?t=0&dry_run=true');
    expect(plain.body.rollout.waves.map((wave: { hosts: string[] }) => wave.hosts)).toEqual([['web-01', 'web-02']]);

    expect(await startedAtOn(['web-01', 'web-02'], 'app-a')).toEqual(before);
    const jobsAfter = await api(fleet, 'GET', '/job?operation=docker.container.restart&limit=100');
    expect(jobsAfter.body.jobs.map((job: { job_id: string }) => job.job_id)).toEqual(
      jobsBefore.body.jobs.map((job: { job_id: string }) => job.job_id),
    );
  });

  it("the job's feed announces each wave's start and end, the pause between waves and the end of the rollout", async () => {
    const started = await api(fleet, 'POST', '/node/role:web/container/docker/app-a/restart?t=0&batch=1&pause=2&async=true&timeout=20');
    expect(started.status).toBe(202);
    const feed = new EventStreamClient(`${fleet.url}/feed/job/${started.body.job_id}`, { authorization: `Bearer ${fleet.adminKey}` });
    await feed.finished();
    const rollout = feed.events.filter((event) => event.event === 'rollout').map((event) => event.data);
    // Wave 1 may have started before the feed opened; everything after the first pause is announced.
    expect(rollout).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ event: 'paused' }),
        { event: 'wave_started', wave: 2, hosts: ['web-02'] },
        { event: 'wave_ended', wave: 2, state: 'passed', failed: [] },
        { event: 'completed', failures: 0 },
      ]),
    );
    expect(rollout.at(-1)).toEqual({ event: 'completed', failures: 0 });
    const end = feed.events.at(-1);
    expect(end).toMatchObject({ event: 'end', data: { reason: 'settled', job: { status: 'ok', rollout: { state: 'completed' } } } });
  });
});

describe('a health gate', () => {
  beforeAll(async () => {
    // The same tag everywhere; on web-01 its healthcheck never passes.
    for (const host of HOSTS) await healthImage(host, host === 'web-01');
    await Promise.all(HOSTS.map((host) => runContainer(host, 'app-h', HEALTH_IMAGE)));
  });
  afterAll(() => fleet.removeContainers(HOSTS, ['app-h']));

  it('stops the rollout at the host whose container turns unhealthy after its restart; the host after it is never restarted', async () => {
    const before = await startedAt('web-02', 'app-h');
    const res = await api(fleet, 'POST', '/node/_all/container/docker/app-h/restart?t=0&batch=1&health=healthy&timeout=20');

    expect(res.status).toBe(409);
    expect(res.body.rollout).toMatchObject({ state: 'stopped', health: 'healthy', failures: 1 });
    expect(res.body.details).toContain('after wave 2 of 3');
    const rows = rowsByHost(res.body);
    expect(rows['db-01']).toMatchObject({ status: 'ok', gate: 'healthy' });
    expect(rows['web-01']).toMatchObject({ status: 'failed', changed: true, error_code: 412 });
    expect(rows['web-01'].gate).toMatch(/^unhealthy/);
    expect(rows['web-02']).toMatchObject({ status: 'skipped', wave: 3 });
    expect(await startedAt('web-02', 'app-h')).toBe(before);
    const onEngine = await fleet.docker('web-01').getContainer('app-h').inspect();
    expect(onEngine.State.Health?.Status).toBe('unhealthy');
  });

  it('health=running passes a container still running after the delay; health_cmd passes on exit 0 and fails otherwise', async () => {
    const running = await api(
      fleet,
      'POST',
      '/node/role:web/container/docker/app-h/restart?t=0&batch=1&health=running&health_delay=1&timeout=20',
    );
    expect(running.status).toBe(202);
    expect(running.body.results.map((row: { gate: string }) => row.gate)).toEqual([
      'running 1s after the step',
      'running 1s after the step',
    ]);

    const passing = await api(
      fleet,
      'POST',
      `/node/db-01/container/docker/app-h/restart?t=0&health_cmd=${encodeURIComponent('test -d /etc')}&timeout=20`,
    );
    expect(passing.status).toBe(202);
    expect(passing.body.results[0]).toMatchObject({ status: 'ok', gate: "'test -d /etc' exited 0" });
    const failing = await api(
      fleet,
      'POST',
      `/node/db-01/container/docker/app-h/restart?t=0&health_cmd=${encodeURIComponent('test -d /nowhere')}&timeout=20`,
    );
    expect(failing.status).toBe(409);
    expect(failing.body.results[0]).toMatchObject({ status: 'failed', error_code: 412, gate: "'test -d /nowhere' exited 1" });
  });
});

describe('pause, resume and abort through another gateway replica', () => {
  let other: { url: string; adminKey: string };
  const admin = () => (jwt.decode(fleet.adminKey) as { sub: string }).sub;
  const startRollout = async () => {
    const started = await api(fleet, 'POST', '/node/role:web/container/docker/app-c/restart?t=0&batch=1&pause=2&async=true&timeout=20');
    expect(started.status).toBe(202);
    return started.body.job_id as string;
  };
  /** The job once its rollout ended: its last progress is stored just after its last row. */
  const settled = async (jobId: string) => {
    for (let attempt = 0; attempt < 100; attempt++) {
      const job = (await api(fleet, 'GET', `/job/${jobId}?wait=30`)).body;
      if (job.rollout.state !== 'running') return job;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`rollout ${jobId} did not end`);
  };

  beforeAll(async () => {
    other = { url: (await fleet.startGatewayReplica('gw-b')).url, adminKey: fleet.adminKey };
    await Promise.all(['web-01', 'web-02'].map((host) => runContainer(host, 'app-c')));
  });
  afterAll(() => fleet.removeContainers(HOSTS, ['app-c']));

  it('a pause holds the next wave until resume: web-02 restarts only once resumed', async () => {
    const before = await startedAt('web-02', 'app-c');
    const jobId = await startRollout();
    const held = await api(other, 'POST', `/job/${jobId}/pause`);
    expect(held.status).toBe(200);
    expect(held.body).toMatchObject({ job_id: jobId, rollout: { state: 'running', paused_by: admin() } });
    // Past the 2 s pause between waves: the hold keeps wave 2 from being sent.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const waiting = (await api(fleet, 'GET', `/job/${jobId}`)).body;
    expect(waiting.rollout.waves.map((wave: { state: string }) => wave.state)).toEqual(['passed', 'pending']);
    expect(await startedAt('web-02', 'app-c')).toBe(before);

    expect((await api(other, 'POST', `/job/${jobId}/resume`)).status).toBe(200);
    const done = await settled(jobId);
    expect(done.rollout).toMatchObject({ state: 'completed' });
    expect(done.rollout.paused_by).toBeUndefined();
    expect(await startedAt('web-02', 'app-c')).not.toBe(before);
    // Ended: nothing left to steer.
    const late = await api(other, 'POST', `/job/${jobId}/pause`);
    expect(late.status).toBe(409);
    expect(late.body).toMatchObject({ error: 'rollout not running', code: 409, reason: 'rollout_not_running' });
  });

  it('an abort skips the waves not yet sent: web-02 is never restarted, and its row names who aborted', async () => {
    const before = await startedAt('web-02', 'app-c');
    const jobId = await startRollout();
    expect((await api(other, 'POST', `/job/${jobId}/abort`)).status).toBe(200);
    const done = await settled(jobId);
    const reason = `rollout aborted before wave 2 of 2 by ${admin()}`;
    expect(done.rollout).toMatchObject({ state: 'aborted', stop_reason: reason });
    expect(done.results.map((row: { hostname: string; status: string }) => [row.hostname, row.status])).toEqual([
      ['web-01', 'ok'],
      ['web-02', 'skipped'],
    ]);
    expect(done.results[1].skipped_reason).toBe(reason);
    expect(await startedAt('web-02', 'app-c')).toBe(before);
  });

  it('a job that ran everywhere at once is no rollout to steer (409)', async () => {
    const plain = await api(fleet, 'GET', '/node/role:web/container/docker');
    const res = await api(other, 'POST', `/job/${plain.body.job_id}/abort`);
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({ error: 'not a rollout', code: 409, reason: 'not_a_rollout' });
  });
});

describe('wave parameters that cannot apply', () => {
  it.each([
    ['a zero batch', '/node/_all/container/docker/app-a/restart?t=0&batch=0', 'POST'],
    ['a health gate on a list', '/node/_all/container/docker?health=healthy', 'GET'],
    ['two gates', '/node/_all/container/docker/app-a/restart?t=0&health=healthy&health_cmd=true', 'POST'],
    ['a seed without order=random', '/node/_all/container/docker/app-a/restart?t=0&batch=1&seed=abc', 'POST'],
    ['waves on a stream', '/node/_all/container/docker/app-a/logs?follow=true&batch=1', 'GET'],
  ])('%s is a 400 with its reason', async (_what, path, method) => {
    const res = await api(fleet, method, path);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ code: 400 });
    expect(res.body.details.length).toBeGreaterThan(0);
  });
});
