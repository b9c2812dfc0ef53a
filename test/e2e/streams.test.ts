/**
 * Server-sent-event streams merged across hosts, on real engines: events
 * arrive tagged with their host, and a client leaving ends the job on every
 * host without leaving a subscription behind on gateway or agents.
 */
import { startTestFleet, type TestFleet } from '../support/fleet';
import { api } from '../support/http';
import { EventStreamClient } from '../support/sse';

const HOSTS = ['db-01', 'web-01', 'web-02'];
let fleet: TestFleet;

beforeAll(async () => {
  fleet = await startTestFleet();
});

afterAll(async () => {
  await fleet?.stop();
});

function openEvents(query = ''): EventStreamClient {
  return new EventStreamClient(`${fleet.url}/node/_all/container/docker/system/events${query}`, { authorization: `Bearer ${fleet.adminKey}` });
}

/** Subscriptions the NATS server holds right now, across all connections (its monitoring endpoint). */
async function natsSubscriptions(): Promise<string[]> {
  const monitorPort = fleet.state.nats?.monitorPort;
  const res = await fetch(`http://127.0.0.1:${monitorPort}/connz?subs=1&limit=1024`);
  const body = (await res.json()) as { connections: Array<{ subscriptions_list?: string[] }> };
  return body.connections.flatMap((c) => c.subscriptions_list ?? []);
}

describe('GET /node/_all/container/docker/system/events', () => {
  it('delivers a start event from each host, tagged with its hostname, while containers start through the gateway', async () => {
    const stream = openEvents('?timeout=60');
    const job = await stream.waitFor((e) => e.event === 'job');
    expect(stream.status).toBe(200);
    expect(job.data.hosts).toEqual(HOSTS);
    // Subscriptions are in place once the job event is out; give the agents a moment to attach to their engines.
    await new Promise((resolve) => setTimeout(resolve, 500));

    const created = await api(fleet, 'POST', '/node/_all/container/docker', {
      body: { image: 'local/busybox:latest', name: 'evt', cmd: ['sleep', '300'], auto_start: true },
    });
    expect(created.status).toBe(202);
    const ids = Object.fromEntries(created.body.results.map((r: { hostname: string; id: string }) => [r.hostname, r.id]));

    for (const host of HOSTS) {
      const start = await stream.waitFor((e) => e.event === 'docker' && e.data.hostname === host && e.data.Action === 'start');
      // The event is the engine's own: its container id is the one this host created.
      expect(start.data.Actor.ID).toBe(ids[host]);
    }
    await stream.close();
  });

  it('ends the job on every host and leaves no subscription behind when the client disconnects', async () => {
    const before = await natsSubscriptions();
    const stream = openEvents('?timeout=120');
    const job = await stream.waitFor((e) => e.event === 'job');
    const jobId: string = job.data.job_id;
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect((await natsSubscriptions()).some((s) => s.includes(jobId))).toBe(true);

    const closedAt = Date.now();
    await stream.close();

    // Every host finishes its row well before the 120 s deadline: the cancel reached them.
    const finished = await api(fleet, 'GET', `/job/${jobId}?wait=20`);
    expect(finished.body.status).toBe('ok');
    expect(finished.body.results.map((r: { status: string }) => r.status)).toEqual(['ok', 'ok', 'ok']);
    expect(Date.now() - closedAt).toBeLessThan(20_000);

    const after = await natsSubscriptions();
    expect(after.filter((s) => s.includes(jobId))).toEqual([]);
    expect(after.length).toBeLessThanOrEqual(before.length);
  });

  it('ends by itself with the rows when `until` bounds the replay', async () => {
    const now = Math.floor(Date.now() / 1000);
    const stream = openEvents(`?since=${now - 3600}&until=${now}`);
    await stream.finished();
    const end = stream.events.find((e) => e.event === 'end');
    expect(end?.data.results.map((r: { hostname: string; status: string }) => [r.hostname, r.status])).toEqual(HOSTS.map((h) => [h, 'ok']));
    expect(stream.events.filter((e) => e.event === 'docker').length).toBeGreaterThan(0);
  });

  it('answers a plain JSON error, not a stream, when the call is refused', async () => {
    const res = await api(fleet, 'GET', '/node/role:nope/container/docker/system/events');
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({ error: 'no agent matches target', code: 404 });
  });
});
