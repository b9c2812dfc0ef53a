/**
 * A rollout survives its gateway (README "Rollouts"): two gateway replicas, three real engines. A rollout
 * started through gateway A is SIGKILLed with A in its pause after wave 1; replica B takes its lease over,
 * answers its pause and resume, and finishes it. Every host created its container exactly once, counted
 * on the engines. Killed with a wave running, the taker collects that wave's rows and sends it nowhere again
 * (one SIGTERM per engine). One that carried environment values (never stored) is stopped by the taker instead, its
 * unreached hosts skipped with that reason. And a rollout call retried with the same Idempotency-Key through the other replica
 * answers with the same job, made once on each engine.
 */
import { readFileSync } from 'node:fs';
import { jetstreamManager } from '@nats-io/jetstream';
import { kvStreamName, kvSubject, ROLLOUT_LEASES_BUCKET } from '@fleet/contracts/protocol';
import { eventually, executionsOf, FaultTally, killSignalsSeen, markedContainer, newMark, SLACK_MS } from '../support/faults';
import { startTestFleet, type TestFleet } from '../support/fleet';
import { api, type ApiTarget } from '../support/http';
import { connectToFleetNats } from '../support/nats';

let fleet: TestFleet;
let replicaB: ApiTarget & { logFile: string };
const tally = new FaultTally('faults/rollout-takeover');
const HOSTS = ['db-01', 'web-01', 'web-02'];
/** The lease is taken over once unrenewed for 10 s (rollout-lease.ts LEASE_MS), found by a scan every 2.5 s. */
const TAKEOVER_MS = 10_000 + 2_500 + SLACK_MS;

beforeAll(async () => {
  fleet = await startTestFleet();
  const replica = await fleet.startGatewayReplica('b');
  replicaB = { url: replica.url, adminKey: fleet.adminKey, logFile: replica.logFile };
}, 180_000);

afterAll(async () => {
  tally.print();
  await fleet?.stop();
});

interface RolloutView {
  state: string;
  paused_until?: string;
  paused_by?: string;
  waves: Array<{ wave: number; hosts: string[]; state: string; sent_at?: string }>;
}

async function rolloutOf(target: ApiTarget, jobId: string): Promise<RolloutView> {
  const res = await api(target, 'GET', `/job/${jobId}`);
  expect(res.status).toBe(200);
  return res.body.rollout;
}

/** Starts a rollout through gateway A, answered at once (async=true): its job id. */
async function startRollout(path: string, body?: unknown): Promise<string> {
  const started = await api(fleet, 'POST', `${path}&async=true`, body === undefined ? {} : { body });
  expect(started.status).toBe(202);
  return started.body.job_id;
}

/** Waits, reading through replica B, for wave 1 to pass and the pause before wave 2 to begin. */
async function pausedAfterWave1(jobId: string): Promise<void> {
  await eventually(
    'wave 1 to pass and the pause to begin',
    async () => {
      const rollout = await rolloutOf(replicaB, jobId);
      return rollout.waves[0].state === 'passed' && rollout.paused_until !== undefined;
    },
    60_000,
  );
}

/** SIGKILLs gateway A, the replica running the rollout, and counts the fault. */
async function killRunningGateway(): Promise<void> {
  await fleet.killGateway('SIGKILL');
  tally.fault(true);
}

/** Waits for the rollout to be stored in `state`, read through replica B. */
async function storedAs(jobId: string, state: string, timeoutMs: number): Promise<void> {
  await eventually(`the rollout to be stored ${state}`, async () => (await rolloutOf(replicaB, jobId)).state === state, timeoutMs);
}

it('answers a rollout retried with the same Idempotency-Key through the other replica with the same job, made once per engine', async () => {
  const mark = newMark('rollout-key');
  const key = `retry-${mark}`;
  const path = '/node/_all/container/docker?batch=1&timeout=60';
  const first = await api(fleet, 'POST', path, { body: markedContainer(mark), headers: { 'Idempotency-Key': key } });
  expect(first.status).toBe(202);
  expect(first.body.rollout.state).toBe('completed');
  const retried = await api(replicaB, 'POST', path, { body: markedContainer(mark), headers: { 'Idempotency-Key': key } });
  expect(retried.status).toBe(202);
  expect(retried.headers['idempotent-replayed']).toBe('true');
  expect(retried.body.job_id).toBe(first.body.job_id);
  expect(retried.body.rollout.waves.map((wave: { state: string }) => wave.state)).toEqual(['passed', 'passed', 'passed']);
  const counts = await executionsOf(fleet, mark);
  expect(tally.exactlyOnce(HOSTS.map((hostname) => ({ mark, hostname, count: counts[hostname] })))).toEqual([]);

  // The same key for other wave parameters is another request.
  const other = await api(replicaB, 'POST', '/node/_all/container/docker?batch=2&timeout=60', {
    body: markedContainer(mark),
    headers: { 'Idempotency-Key': key },
  });
  expect(other.status).toBe(422);
  expect(other.body.reason).toBe('idempotency_key_reused');
  expect(await executionsOf(fleet, mark)).toEqual(counts);
});

it('answers the retry of a stopped rollout like the first call: 409 rollout_stopped with the same job and rows', async () => {
  const key = `retry-${newMark('stopped')}`;
  // The first host in order has no such container: the rollout stops there, the others are skipped.
  const path = `/node/_all/container/docker/${newMark('missing')}/restart?batch=1&timeout=30`;
  const first = await api(fleet, 'POST', path, { headers: { 'Idempotency-Key': key } });
  expect(first.status).toBe(409);
  expect(first.body.reason).toBe('rollout_stopped');
  const retried = await api(replicaB, 'POST', path, { headers: { 'Idempotency-Key': key } });
  expect(retried.status).toBe(409);
  expect(retried.headers['idempotent-replayed']).toBe('true');
  expect({ reason: retried.body.reason, job_id: retried.body.job_id, details: retried.body.details }).toEqual({
    reason: 'rollout_stopped',
    job_id: first.body.job_id,
    details: first.body.details,
  });
  expect(retried.body.results.map((row: { status: string }) => row.status)).toEqual(['failed', 'skipped', 'skipped']);
});

it('finishes a rollout through the other replica once the gateway running it is SIGKILLed, each host run exactly once', async () => {
  const mark = newMark('takeover');
  const jobId = await startRollout('/node/_all/container/docker?batch=1&pause=8&timeout=60', markedContainer(mark));

  // Mid-way: wave 1 passed and A is in the pause before wave 2, which no host has seen yet.
  await pausedAfterWave1(jobId);
  expect(await executionsOf(fleet, mark)).toEqual({ 'db-01': 1, 'web-01': 0, 'web-02': 0 });

  await killRunningGateway();

  // B takes the lease over, and answers the rollout's controls from then on: held during wave 2, nothing more goes.
  await eventually('replica B to take the rollout over', () => tookOver(replicaB.logFile, jobId), TAKEOVER_MS);
  const paused = await api(replicaB, 'POST', `/job/${jobId}/pause`);
  expect(paused.status).toBe(200);
  expect(paused.body.rollout.paused_by).toBeDefined();
  await eventually('wave 2 to pass', async () => (await rolloutOf(replicaB, jobId)).waves[1].state === 'passed', 60_000);
  const held = await rolloutOf(replicaB, jobId);
  expect(held.waves[2].state).toBe('pending');
  expect((await executionsOf(fleet, mark))['web-02']).toBe(0);
  const resumed = await api(replicaB, 'POST', `/job/${jobId}/resume`);
  expect(resumed.status).toBe(200);

  const done = await api(replicaB, 'GET', `/job/${jobId}?wait=60`, { timeoutMs: 90_000 });
  expect(done.status).toBe(200);
  await storedAs(jobId, 'completed', 30_000);
  const final = await api(replicaB, 'GET', `/job/${jobId}`);
  expect(final.body.status).toBe('ok');
  expect(final.body.results.map((row: { hostname: string; status: string }) => [row.hostname, row.status])).toEqual(
    HOSTS.map((hostname) => [hostname, 'ok']),
  );
  expect(final.body.rollout.waves.map((wave: { state: string }) => wave.state)).toEqual(['passed', 'passed', 'passed']);

  const counts = await executionsOf(fleet, mark);
  expect(tally.exactlyOnce(HOSTS.map((hostname) => ({ mark, hostname, count: counts[hostname] })))).toEqual([]);

  // The ended rollout's lease is gone: no replica takes it over again.
  const nc = await connectToFleetNats(fleet.state);
  try {
    const jsm = await jetstreamManager(nc);
    const lease = await jsm.streams.getMessage(kvStreamName(ROLLOUT_LEASES_BUCKET), {
      last_by_subj: kvSubject(ROLLOUT_LEASES_BUCKET, jobId),
    });
    expect(lease?.header?.get('KV-Operation')).toBe('DEL');
  } finally {
    await nc.close();
  }
});

it('finishes a rollout whose gateway died with a wave running: that wave is collected, one stop per engine', async () => {
  await fleet.startGateway();
  // PID 1 of these containers ignores SIGTERM: each host's `stop?t=4` takes 4 s, so a wave is caught running.
  const name = `stubborn-${newMark('wave')}`;
  const created = await api(fleet, 'POST', '/node/_all/container/docker', { body: markedContainer(name, { name, start: true }) });
  expect(created.status).toBe(202);
  const since = Math.floor(Date.now() / 1000) - 1;
  const jobId = await startRollout(`/node/_all/container/docker/${name}/stop?t=4&batch=1&timeout=60`);

  await eventually(
    'wave 2 to be sent and running',
    async () => {
      const rollout = await rolloutOf(replicaB, jobId);
      return rollout.waves[1].state === 'running' && rollout.waves[1].sent_at !== undefined;
    },
    60_000,
    100,
  );
  await killRunningGateway();

  await storedAs(jobId, 'completed', TAKEOVER_MS + 60_000);
  expect(tookOver(replicaB.logFile, jobId)).toBe(true);
  const job = await api(replicaB, 'GET', `/job/${jobId}`);
  expect(job.body.status).toBe('ok');
  expect(job.body.rollout.waves.map((wave: { state: string }) => wave.state)).toEqual(['passed', 'passed', 'passed']);
  const stops = await Promise.all(HOSTS.map((hostname) => killSignalsSeen(fleet, hostname, name, since)));
  expect(tally.exactlyOnce(HOSTS.map((hostname, i) => ({ mark: name, hostname, count: stops[i] })))).toEqual([]);
});

it('skips the rest of a rollout that carried what is never stored: the taker cannot send it, and says so on each skipped row', async () => {
  await fleet.startGateway();
  const mark = newMark('takeover-env');
  // Environment values are never stored (README "Rerunning a job"), like a credential: only the first replica could send them.
  const body = { ...markedContainer(mark), env: { TOKEN: 's3cret-takeover' } };
  const jobId = await startRollout('/node/_all/container/docker?batch=1&pause=12&timeout=60', body);
  await pausedAfterWave1(jobId);
  await killRunningGateway();

  await storedAs(jobId, 'stopped', TAKEOVER_MS + 12_000);
  const job = await api(replicaB, 'GET', `/job/${jobId}`);
  const why = 'the gateway replica running it stopped, and no other may send it: it carried environment values, which are never stored';
  expect(job.body.rollout.stop_reason).toBe(`rollout stopped before wave 2 of 3: ${why}`);
  expect(job.body.results.map((row: { hostname: string; status: string; skipped_reason?: string }) => [row.hostname, row.status])).toEqual([
    ['db-01', 'ok'],
    ['web-01', 'skipped'],
    ['web-02', 'skipped'],
  ]);
  expect(job.body.results[1].skipped_reason).toBe(`rollout stopped before wave 2 of 3: ${why}`);
  expect(JSON.stringify(job.body)).not.toContain('s3cret-takeover');
  // Nothing reached a skipped host: checked on its engine.
  expect(await executionsOf(fleet, mark)).toEqual({ 'db-01': 1, 'web-01': 0, 'web-02': 0 });
});

/** Whether the replica's log says it took `jobId` over. */
function tookOver(logFile: string, jobId: string): boolean {
  return readFileSync(logFile, 'utf8')
    .split('\n')
    .some((line) => line.includes('rollout taken over') && line.includes(jobId));
}
