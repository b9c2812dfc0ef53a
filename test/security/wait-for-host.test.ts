/**
 * Jobs that wait for a host (README "Jobs that wait for a host"), tried as an attacker: a viewer waiting a
 * mutation; a scoped key's waiting job for a host an admin relabels outside the scope meanwhile; a host enrolled
 * later that asks for the labels of a scoped key's waiting target but is accepted outside them; a revoked key's
 * waiting job; an agent's own NATS login forging a delivery marker or a waiting job. Effects are checked on the
 * engines and in the broker.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import jwt from 'jsonwebtoken';
import { kvStreamName, kvSubject, WAITING_BUCKET } from '@fleet/contracts/protocol';
import { NatsLogin } from '../support/agent-login';
import { attack } from '../support/attacks';
import { eventually, executionsOf, markedContainer, newMark, SLACK_MS } from '../support/faults';
import { api } from '../support/http';
import { useJoiningAgent } from '../support/joining-agent';
import { connectToFleetNats } from '../support/nats';
import { useTestFleet } from '../support/suite';

jest.setTimeout(180_000);
const AGENT_TTL_MS = 3_000;
const fleet = useTestFleet({
  gatewayEnv: { FLEET_AGENT_TTL_MS: String(AGENT_TTL_MS) },
  agentEnv: { FLEET_AGENT_HEARTBEAT_MS: '500', FLEET_AGENT_REFRESH_MS: '1000' },
});
// Asks for role=web; an admin accepts it as role=edge. It shares db-01's engine.
const asksForWeb = useJoiningAgent(fleet, { hostname: 'edge-02', logName: 'wait-attack', labels: 'role=web', engineHost: 'db-01' });
const HOSTS = ['db-01', 'web-01', 'web-02'];
let nc: NatsConnection;

beforeAll(async () => {
  nc = await connectToFleetNats(fleet.state);
});

afterAll(async () => {
  await nc?.close();
});

/** Until GET /agent no longer lists the host as live. */
async function offline(hostname: string): Promise<void> {
  await eventually(
    `${hostname} to go offline`,
    async () => (await api(fleet, 'GET', `/agent/${hostname}`)).body?.live !== true,
    AGENT_TTL_MS + SLACK_MS,
  );
}

/**
 * The host is live and takes jobs, and has been heard for several heartbeats since: a waiting job it could get
 * would have been delivered by now (a delivery follows the first heartbeat heard).
 */
async function heardForAWhile(hostname: string): Promise<void> {
  await eventually(
    `${hostname} to take jobs`,
    async () => (await api(fleet, 'GET', `/node/${hostname}/container/docker`)).status === 200,
    SLACK_MS * 3,
  );
  await new Promise((resolve) => setTimeout(resolve, 6 * 500));
}

/** The keys of WAITING_BUCKET under `prefix`, as the broker holds them. */
async function waitingKeys(prefix: string): Promise<string[]> {
  const jsm = await jetstreamManager(nc);
  const { state } = await jsm.streams.info(kvStreamName(WAITING_BUCKET), { subjects_filter: kvSubject(WAITING_BUCKET, `${prefix}>`) });
  return Object.keys(state.subjects ?? {});
}

async function rowOf(jobId: string, hostname: string): Promise<{ status: string; skipped_reason?: string } | undefined> {
  const job = await api(fleet, 'GET', `/job/${jobId}`);
  expect(job.status).toBe(200);
  return job.body.results.find((row: { hostname: string }) => row.hostname === hostname);
}

attack('a viewer waits a container create for a host that is not live: refused, nothing kept or run', async () => {
  const viewer = fleet.mintKey('viewer', { subject: 'wait-viewer' });
  const mark = newMark('wait-viewer');
  const jobsBefore = await waitingKeys('job.');
  for (const target of ['web-01', 'ghost-02', 'role:web']) {
    const res = await api(fleet, 'POST', `/node/${target}/container/docker?wait_for_host=600`, {
      key: viewer,
      body: markedContainer(mark),
    });
    expect(res.status).toBe(403);
    expect(res.body.reason).toBe('permission_denied');
  }
  expect(await waitingKeys('job.')).toEqual(jobsBefore);
  expect(await executionsOf(fleet, mark, HOSTS)).toEqual({ 'db-01': 0, 'web-01': 0, 'web-02': 0 });
});

attack("a scoped key's waiting job for a host an admin relabels outside the scope meanwhile: never delivered there", async () => {
  const scoped = fleet.mintKey('admin', { scope: 'role:web', subject: 'wait-scoped' });
  await fleet.killAgent('web-02');
  await offline('web-02');
  const mark = newMark('wait-relabel');
  const call = await api(fleet, 'POST', '/node/web-02/container/docker?wait_for_host=120', { key: scoped, body: markedContainer(mark) });
  expect(call.status).toBe(202);
  expect(call.body.results).toMatchObject([{ hostname: 'web-02', status: 'waiting' }]);
  expect((await api(fleet, 'PUT', '/agent/web-02/labels', { body: { labels: { role: 'db', zone: 'us.east' } } })).status).toBe(200);
  await fleet.startAgent('web-02');
  await heardForAWhile('web-02');
  expect(await executionsOf(fleet, mark, HOSTS)).toEqual({ 'db-01': 0, 'web-01': 0, 'web-02': 0 });
  expect(await rowOf(call.body.job_id, 'web-02')).toMatchObject({ status: 'waiting' });
  expect(await waitingKeys(`sent.${call.body.job_id}.`)).toEqual([]);
});

attack("a host enrolled later asking for the labels of a scoped key's waiting target, accepted outside them: never gets it", async () => {
  const scoped = fleet.mintKey('admin', { scope: 'role:web', subject: 'wait-scoped-later' });
  const mark = newMark('wait-later');
  const call = await api(fleet, 'POST', '/node/role:web/container/docker?wait_for_host=120', { key: scoped, body: markedContainer(mark) });
  expect(call.status).toBe(202);
  const issued = await api(fleet, 'POST', '/agent/edge-02/join-token', { body: { ttl_seconds: 300 } });
  expect(issued.status).toBe(201);
  await asksForWeb.start(issued.body.token);
  expect((await api(fleet, 'POST', '/agent/edge-02/accept', { body: { labels: { role: 'edge' } } })).status).toBe(200);
  await heardForAWhile('edge-02');
  // edge-02 runs on db-01's engine: nothing there; web-01 (role:web, inside the scope) ran it at the call.
  expect(await executionsOf(fleet, mark, HOSTS)).toEqual({ 'db-01': 0, 'web-01': 1, 'web-02': 0 });
  expect(await rowOf(call.body.job_id, 'edge-02')).toBeUndefined();
  expect(await waitingKeys(`sent.${call.body.job_id}.`)).toEqual([kvSubject(WAITING_BUCKET, `sent.${call.body.job_id}.web-01`)]);
});

attack("a revoked key's waiting job: not delivered when its host comes back, its row says why", async () => {
  const key = fleet.mintKey('admin', { subject: 'wait-revoked' });
  const { jti } = jwt.decode(key) as { jti: string };
  await fleet.killAgent('db-01');
  await offline('db-01');
  const mark = newMark('wait-revoked');
  const call = await api(fleet, 'POST', '/node/db-01/container/docker?wait_for_host=120', { key, body: markedContainer(mark) });
  expect(call.status).toBe(202);
  expect((await api(fleet, 'DELETE', `/token/${jti}`)).status).toBe(200);
  await fleet.startAgent('db-01');
  await heardForAWhile('db-01');
  expect(await executionsOf(fleet, mark, HOSTS)).toEqual({ 'db-01': 0, 'web-01': 0, 'web-02': 0 });
  await eventually(
    'the row to say the key was revoked',
    async () => (await rowOf(call.body.job_id, 'db-01'))?.status === 'skipped',
    SLACK_MS,
  );
  expect((await rowOf(call.body.job_id, 'db-01'))?.skipped_reason).toContain('revoked');
});

attack("an agent's own NATS login writes a delivery marker or a waiting job into the gateway's bucket: refused", async () => {
  const login = await NatsLogin.asAgent(fleet, 'web-01');
  try {
    const forged = [kvSubject(WAITING_BUCKET, 'job.forged'), kvSubject(WAITING_BUCKET, 'sent.forged.web-01')];
    for (const subject of forged) {
      login.nc.publish(subject, JSON.stringify({ target: '_all', until: Date.now() + 600_000 }));
      await login.violationFor(subject);
    }
    expect(await waitingKeys('job.')).not.toContain(kvSubject(WAITING_BUCKET, 'job.forged'));
    expect(await waitingKeys('sent.forged.')).toEqual([]);
  } finally {
    await login.nc.close();
  }
});
