/**
 * The live feeds (GET /feed/job/{id}, /feed/jobs, /feed/agents) show what GET /job/{id}, GET /job
 * and GET /agent show, and no more: a key without docker:exec hears no exec output, a key scoped
 * to role:web hears nothing of db-01, and a revoked key's open feed ends. The secret is asserted
 * on the engine's own output first, so a leak would really carry it.
 */
import { randomUUID } from 'node:crypto';
import { Kvm } from '@nats-io/kv';
import { REVOKED_BUCKET } from '@fleet/contracts/protocol';
import { attack } from '../support/attacks';
import { api, forbiddenBody } from '../support/http';
import { connectToFleetNats } from '../support/nats';
import { EventStreamClient } from '../support/sse';
import { useTestFleet } from '../support/suite';

const fleet = useTestFleet();
const IMAGE = 'local/busybox:latest';
const CONTAINER = 'feed-secret-holder';
const SECRET = `FEEDSECRET-${randomUUID()}`;
/** How long a feed is left open to hear what it must not: the gateway relays within milliseconds. */
const LISTEN_MS = 3_000;

function openFeed(path: string, key: string): EventStreamClient {
  return new EventStreamClient(`${fleet.url}${path}`, { authorization: `Bearer ${key}`, accept: 'text/event-stream' });
}

async function exec(target: string): Promise<{ job_id: string; results: Array<{ hostname: string; stdout: string }> }> {
  const res = await api(fleet, 'POST', `/node/${target}/container/docker/${CONTAINER}/exec`, {
    body: { cmd: ['sh', '-c', `sleep 1; echo ${SECRET}`] },
  });
  expect(res.status).toBe(202);
  return res.body;
}

const mentions = (events: unknown, text: string) => JSON.stringify(events).includes(text);
const settle = () => new Promise((resolve) => setTimeout(resolve, LISTEN_MS));

beforeAll(async () => {
  const created = await api(fleet, 'POST', '/node/_all/container/docker', {
    body: { image: IMAGE, name: CONTAINER, cmd: ['sleep', '3600'], auto_start: true },
  });
  expect(created.status).toBe(202);
});

attack('viewer (no docker:exec) follows an exec job: 403 before any event, and hears none of it on the jobs feed', async () => {
  const viewer = fleet.mintKey('viewer');
  const jobs = openFeed('/feed/jobs', viewer);
  const job = await exec('db-01');
  expect(job.results[0].stdout).toBe(`${SECRET}\n`);
  const refused = await api(fleet, 'GET', `/feed/job/${job.job_id}`, { key: viewer });
  expect(refused.status).toBe(403);
  expect(refused.body).toEqual(forbiddenBody('docker:exec'));
  await settle();
  await jobs.close();
  expect(jobs.status).toBe(200);
  expect(jobs.events.filter((e) => e.data?.job_id === job.job_id)).toEqual([]);
  expect(mentions(jobs.events, SECRET)).toBe(false);
});

attack('operator scoped to role:web follows a job that ran only on db-01: 404, as GET /job/{id} answers', async () => {
  const job = await exec('db-01');
  const res = await api(fleet, 'GET', `/feed/job/${job.job_id}`, { key: fleet.mintKey('operator', { scope: 'role:web' }) });
  expect(res.status).toBe(404);
  expect(res.body).toEqual({ error: 'job not found', details: expect.any(String), code: 404, reason: 'not_found' });
  expect(mentions(res.body, SECRET)).toBe(false);
});

attack('operator scoped to role:web follows an _all exec: only the web rows, db-01 named in no event', async () => {
  const started = await api(fleet, 'POST', `/node/_all/container/docker/${CONTAINER}/exec?async=true`, {
    body: { cmd: ['sh', '-c', `sleep 1; echo ${SECRET}`] },
  });
  const feed = openFeed(`/feed/job/${started.body.job_id}`, fleet.mintKey('operator', { scope: 'role:web' }));
  await feed.finished();
  expect(feed.status).toBe(200);
  expect(feed.events[0].data.hosts).toEqual(['web-01', 'web-02']);
  const end = feed.events[feed.events.length - 1];
  expect(end.data.job.results.map((row: { hostname: string; stdout: string }) => [row.hostname, row.stdout])).toEqual([
    ['web-01', `${SECRET}\n`],
    ['web-02', `${SECRET}\n`],
  ]);
  expect(mentions(feed.events, 'db-01')).toBe(false);
  // The job did run on db-01 too: the unscoped view has its row.
  expect((await api(fleet, 'GET', `/job/${started.body.job_id}`)).body.hosts).toEqual(['db-01', 'web-01', 'web-02']);
});

attack('viewer scoped to role:web on the jobs feed: a db-01 job is left out, an _all job is cut to the web hosts', async () => {
  const feed = openFeed('/feed/jobs', fleet.mintKey('viewer', { scope: 'role:web' }));
  await new Promise((resolve) => setTimeout(resolve, 500));
  const dbOnly = await api(fleet, 'GET', '/node/db-01/container/docker');
  const all = await api(fleet, 'GET', '/node/_all/container/docker?all=true');
  expect(all.body.results.map((row: { hostname: string }) => row.hostname)).toEqual(['db-01', 'web-01', 'web-02']);
  const settled = await feed.waitFor((e) => e.event === 'job' && e.data.job_id === all.body.job_id && e.data.status !== 'running');
  expect(settled.data.hosts).toEqual(['web-01', 'web-02']);
  expect(settled.data.results.map((row: { hostname: string }) => row.hostname)).toEqual(['web-01', 'web-02']);
  await settle();
  await feed.close();
  expect(feed.events.filter((e) => e.data?.job_id === dbOnly.body.job_id)).toEqual([]);
  expect(mentions(feed.events, 'db-01')).toBe(false);
});

attack('admin scoped to role:web on the agents feed: db-01 is never sent, not even when it is drained', async () => {
  const feed = openFeed('/feed/agents', fleet.mintKey('admin', { scope: 'role:web' }));
  const first = await feed.waitFor((e) => e.event === 'agents');
  expect(first.data.agents.map((agent: { hostname: string }) => agent.hostname)).toEqual(['web-01', 'web-02']);
  expect((await api(fleet, 'POST', '/agent/db-01/drain')).status).toBe(200);
  try {
    // Heartbeats of the web hosts keep coming; the drain of db-01 must not.
    await feed.waitFor((e) => e.event === 'agent' && e.data.hostname === 'web-01');
    await settle();
  } finally {
    await api(fleet, 'POST', '/agent/db-01/undrain');
  }
  await feed.close();
  expect(mentions(feed.events, 'db-01')).toBe(false);
});

attack('a key revoked while its feed is open: the feed ends with reason revoked, and cannot be reopened', async () => {
  const key = fleet.mintKey('viewer', { subject: 'feed-revoked' });
  const keyId = (await api(fleet, 'GET', '/whoami', { key })).body.key_id;
  const feed = openFeed('/feed/agents', key);
  await feed.waitFor((e) => e.event === 'agents');
  expect((await api(fleet, 'DELETE', `/token/${keyId}`)).status).toBe(200);
  // The revocation is in the broker's bucket, where every replica reads it.
  const nc = await connectToFleetNats(fleet.state);
  try {
    expect(await (await new Kvm(nc).open(REVOKED_BUCKET)).get(keyId)).not.toBeNull();
  } finally {
    await nc.close();
  }
  await feed.finished();
  expect(feed.events[feed.events.length - 1]).toEqual({ event: 'end', data: { reason: 'revoked' } });
  expect((await api(fleet, 'GET', '/feed/agents', { key })).status).toBe(401);
});

attack('one key opens feeds without bound: past 16 at once the gateway answers 429', async () => {
  const key = fleet.mintKey('viewer', { subject: 'feed-hoarder' });
  const feeds = Array.from({ length: 16 }, () => openFeed('/feed/agents', key));
  try {
    for (const feed of feeds) await feed.waitFor((e) => e.event === 'agents');
    const refused = await api(fleet, 'GET', '/feed/agents', { key });
    expect(refused.status).toBe(429);
    expect(refused.body).toMatchObject({ code: 429, reason: 'long_running_limit' });
    // Another key is not affected.
    const other = openFeed('/feed/agents', fleet.mintKey('viewer'));
    await other.waitFor((e) => e.event === 'agents');
    await other.close();
  } finally {
    await Promise.all(feeds.map((feed) => feed.close()));
  }
});
