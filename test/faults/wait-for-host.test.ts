/**
 * Jobs that wait for a host (README "Jobs that wait for a host"), on real engines: a label-target job with
 * `wait_for_host` reaches an agent enrolled after the call, through two gateway replicas that both hear it, and
 * runs there once (counted on its engine, one delivery marker in the broker); an offline agent that comes back
 * gets its waiting job, after the gateway that took the call was killed and started again; a job whose wait runs
 * out ends with a `skipped` row for each host it waited for in vain; and what a waiting job cannot keep is refused.
 * The job's feed follows a host the job reaches after the call.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { kvStreamName, kvSubject, WAITING_BUCKET } from '@fleet/contracts/protocol';
import { eventually, executionsOf, markedContainer, newMark, SLACK_MS, useFaultFleet } from '../support/faults';
import { api, type ApiTarget } from '../support/http';
import { useJoiningAgent } from '../support/joining-agent';
import { connectToFleetNats } from '../support/nats';
import { EventStreamClient } from '../support/sse';

jest.setTimeout(240_000);
/** An agent is live while its last heartbeat (every 500 ms here) is younger than this. */
const AGENT_TTL_MS = 3_000;
const { fleet, tally } = useFaultFleet('faults/wait-for-host', {
  gatewayEnv: { FLEET_AGENT_TTL_MS: String(AGENT_TTL_MS), FLEET_JOB_RETENTION_SECONDS: '3600' },
  agentEnv: { FLEET_AGENT_HEARTBEAT_MS: '500', FLEET_AGENT_REFRESH_MS: '1000' },
});
// Started with its join token by the test that enrols it; it shares db-01's engine.
const edge = useJoiningAgent(fleet, { hostname: 'edge-01', logName: 'wait-for-host', labels: 'role=edge', engineHost: 'db-01' });
const HOSTS = ['db-01', 'web-01', 'web-02'];
let nc: NatsConnection;

beforeAll(async () => {
  nc = await connectToFleetNats(fleet.state);
});

afterAll(async () => {
  await nc?.close();
});

interface JobBody {
  status: string;
  hosts: string[];
  results: Array<{ hostname: string; status: string; waiting_until?: string; skipped_reason?: string; error?: string }>;
}

async function jobOf(target: ApiTarget, jobId: string): Promise<JobBody> {
  const res = await api(target, 'GET', `/job/${jobId}`);
  expect(res.status).toBe(200);
  return res.body;
}

/** Until GET /agent no longer lists the host as live. */
async function offline(hostname: string): Promise<void> {
  await eventually(
    `${hostname} to go offline`,
    async () => (await api(fleet, 'GET', `/agent/${hostname}`)).body?.live !== true,
    AGENT_TTL_MS + SLACK_MS,
  );
}

/** The delivery markers the broker holds for a job (one per host it was delivered to). */
async function deliveryMarkers(jobId: string): Promise<string[]> {
  const jsm = await jetstreamManager(nc);
  const { state } = await jsm.streams.info(kvStreamName(WAITING_BUCKET), { subjects_filter: kvSubject(WAITING_BUCKET, `sent.${jobId}.>`) });
  return Object.keys(state.subjects ?? {}).map((subject) => subject.slice(kvSubject(WAITING_BUCKET, `sent.${jobId}.`).length));
}

it('reaches an agent enrolled after the call once, through two replicas that both hear it (its engine, the broker)', async () => {
  const replica = await fleet.startGatewayReplica('b');
  const replicaB: ApiTarget = { url: replica.url, adminKey: fleet.adminKey };
  const mark = newMark('wait-new');
  const call = await api(fleet, 'POST', '/node/role:edge/container/docker?wait_for_host=180', { body: markedContainer(mark) });
  expect(call.status).toBe(202);
  // No host of role:edge exists yet: none to answer now, the job pending until one appears.
  expect(call.body.results).toEqual([]);
  const jobId: string = call.body.job_id;
  expect((await jobOf(replicaB, jobId)).status).toBe('pending');
  // The job's feed, through the other replica, follows the host the job reaches later.
  const feed = new EventStreamClient(`${replica.url}/feed/job/${jobId}`, {
    authorization: `Bearer ${fleet.adminKey}`,
    accept: 'text/event-stream',
  });
  expect((await feed.waitFor((event) => event.event === 'job')).data).toMatchObject({ status: 'pending', results: [] });

  const issued = await api(fleet, 'POST', '/agent/edge-01/join-token', { body: { ttl_seconds: 300 } });
  expect(issued.status).toBe(201);
  await edge.start(issued.body.token);
  expect((await api(replicaB, 'POST', '/agent/edge-01/accept')).status).toBe(200);

  await eventually('edge-01 to run the waiting job', async () => (await jobOf(fleet, jobId)).status === 'ok', SLACK_MS * 3);
  await feed.waitFor((event) => event.event === 'row' && event.data.hostname === 'edge-01' && event.data.status === 'ok');
  await feed.close();
  const job = await jobOf(replicaB, jobId);
  expect(job.hosts).toEqual(['edge-01']);
  expect(job.results).toMatchObject([{ hostname: 'edge-01', status: 'ok' }]);
  // edge-01 runs on db-01's engine; no other engine got it.
  const counts = await executionsOf(fleet, mark, HOSTS);
  expect(counts).toEqual({ 'db-01': 1, 'web-01': 0, 'web-02': 0 });
  expect(tally.exactlyOnce([{ mark, hostname: 'edge-01', count: counts['db-01'] }])).toEqual([]);
  expect(await deliveryMarkers(jobId)).toEqual(['edge-01']);
  tally.fault(true);
});

it('reaches an offline agent when it comes back, after the gateway that took the call was killed and started again', async () => {
  await fleet.killAgent('web-02');
  await offline('web-02');
  const mark = newMark('wait-back');
  const call = await api(fleet, 'POST', '/node/role:web/container/docker?wait_for_host=180', { body: markedContainer(mark) });
  expect(call.status).toBe(202);
  expect(call.body.results).toMatchObject([
    { hostname: 'web-01', status: 'ok' },
    { hostname: 'web-02', status: 'waiting', waiting_until: expect.any(String) },
  ]);
  const jobId: string = call.body.job_id;
  expect((await jobOf(fleet, jobId)).status).toBe('running');

  await fleet.killGateway();
  await fleet.startGateway();
  await fleet.startAgent('web-02');
  await eventually('web-02 to run the waiting job', async () => (await jobOf(fleet, jobId)).status === 'ok', SLACK_MS * 3);
  const counts = await executionsOf(fleet, mark, HOSTS);
  expect(counts).toEqual({ 'db-01': 0, 'web-01': 1, 'web-02': 1 });
  expect(tally.exactlyOnce(['web-01', 'web-02'].map((hostname) => ({ mark, hostname, count: counts[hostname] })))).toEqual([]);
  expect((await deliveryMarkers(jobId)).sort()).toEqual(['web-01', 'web-02']);
  tally.fault(true);
});

it('ends a wait that runs out with a skipped row for each host it waited for, which then never runs it', async () => {
  await fleet.killAgent('db-01');
  await offline('db-01');
  const mark = newMark('wait-out');
  const call = await api(fleet, 'POST', '/node/role:db/container/docker?wait_for_host=2', { body: markedContainer(mark) });
  expect(call.status).toBe(202);
  expect(call.body.results).toMatchObject([{ hostname: 'db-01', status: 'waiting' }]);
  const named = await api(fleet, 'POST', '/node/ghost-01/container/docker?wait_for_host=2', { body: markedContainer(mark) });
  expect(named.status).toBe(202);
  expect(named.body.results).toMatchObject([{ hostname: 'ghost-01', status: 'waiting' }]);

  for (const jobId of [call.body.job_id, named.body.job_id]) {
    await eventually('the wait to end', async () => (await jobOf(fleet, jobId)).status === 'failed', SLACK_MS);
    const [row] = (await jobOf(fleet, jobId)).results;
    expect(row.status).toBe('skipped');
    expect(row.skipped_reason).toContain('not seen before the wait ended');
  }
  await fleet.startAgent('db-01');
  // db-01 is back and taking jobs: the job it missed stays missed.
  expect((await api(fleet, 'GET', '/node/db-01/container/docker')).status).toBe(200);
  expect((await jobOf(fleet, call.body.job_id)).results).toMatchObject([{ hostname: 'db-01', status: 'skipped' }]);
  expect(await executionsOf(fleet, mark, HOSTS)).toEqual({ 'db-01': 0, 'web-01': 0, 'web-02': 0 });
  tally.fault(true);
});

it('answers a retry with the same Idempotency-Key with the waiting job, as the first call answered', async () => {
  const mark = newMark('wait-retry');
  const call = () =>
    api(fleet, 'POST', '/node/ghost-02/container/docker?wait_for_host=600&timeout=5', {
      body: markedContainer(mark),
      headers: { 'idempotency-key': mark },
    });
  const first = await call();
  expect(first.status).toBe(202);
  expect(first.body.results).toMatchObject([{ hostname: 'ghost-02', status: 'waiting' }]);
  const retry = await call();
  expect(retry.status).toBe(202);
  expect(retry.headers['idempotent-replayed']).toBe('true');
  expect(retry.body).toMatchObject({ job_id: first.body.job_id, results: [{ hostname: 'ghost-02', status: 'waiting' }] });
});

it('refuses with 400 wait_refused what a waiting job cannot keep, and stores nothing', async () => {
  const refused = async (path: string, body: unknown) => {
    const res = await api(fleet, 'POST', path, { body });
    expect(res.body).toMatchObject({ code: 400, reason: 'wait_refused', details: expect.any(String) });
  };
  const jobsBefore = (await api(fleet, 'GET', '/job?limit=100')).body.jobs.length;
  const mark = newMark('wait-refused');
  await refused('/node/_any/container/docker?wait_for_host=60', markedContainer(mark));
  await refused('/node/role:web/container/docker?wait_for_host=60&batch=1', markedContainer(mark));
  await refused('/node/role:web/container/docker?wait_for_host=60&dry_run=true', markedContainer(mark));
  await refused('/node/role:web/container/docker?wait_for_host=60', { ...markedContainer(mark), env: { TOKEN: 'never-stored' } });
  // FLEET_JOB_RETENTION_SECONDS is 3600 here: the record would be gone before the job.
  await refused('/node/role:web/container/docker?wait_for_host=3500&timeout=120', markedContainer(mark));
  expect((await api(fleet, 'GET', '/job?limit=100')).body.jobs.length).toBe(jobsBefore);
  expect(await executionsOf(fleet, mark, HOSTS)).toEqual({ 'db-01': 0, 'web-01': 0, 'web-02': 0 });
});
