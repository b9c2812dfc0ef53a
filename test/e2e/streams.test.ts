/**
 * Server-sent-event streams merged across hosts, on real engines: events
 * arrive tagged with their host, and a client leaving ends the job on every
 * host without leaving a subscription behind on gateway or agents.
 */
import { useTestFleet } from '../support/suite';
import { api } from '../support/http';
import { EventStreamClient } from '../support/sse';

const HOSTS = ['db-01', 'web-01', 'web-02'];
const fleet = useTestFleet();

function openEvents(query = ''): EventStreamClient {
  return new EventStreamClient(`${fleet.url}/node/_all/container/docker/system/events${query}`, {
    authorization: `Bearer ${fleet.adminKey}`,
  });
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

describe('container streams', () => {
  beforeAll(async () => {
    const res = await api(fleet, 'POST', '/node/_all/container/docker', {
      body: {
        image: 'local/busybox:latest',
        name: 'ticker',
        cmd: ['sh', '-c', 'i=0; while true; do echo tick $i; echo oops $i >&2; i=$((i+1)); sleep 0.2; done'],
        auto_start: true,
      },
    });
    expect(res.body.results.map((r: { status: string }) => r.status)).toEqual(['ok', 'ok', 'ok']);
  });

  /** Closes the client, then checks every host finished its row and no subscription of the job is left on the broker. */
  async function closeAndCheck(stream: EventStreamClient, jobId: string): Promise<void> {
    await stream.close();
    const job = await api(fleet, 'GET', `/job/${jobId}?wait=20`);
    expect(job.body.status).toBe('ok');
    expect((await natsSubscriptions()).filter((s) => s.includes(jobId))).toEqual([]);
  }

  it('follows logs on every host as stdout and stderr events, until the client leaves', async () => {
    const stream = new EventStreamClient(`${fleet.url}/node/_all/container/docker/ticker/logs?follow=true&tail=1&timeout=120`, {
      authorization: `Bearer ${fleet.adminKey}`,
    });
    const job = await stream.waitFor((e) => e.event === 'job');
    for (const host of HOSTS) {
      await stream.waitFor((e) => e.event === 'stdout' && e.data.hostname === host && /tick \d+/.test(e.data.text));
      await stream.waitFor((e) => e.event === 'stderr' && e.data.hostname === host && /oops \d+/.test(e.data.text));
    }
    // Following means new output keeps coming: a later tick than the first one seen on web-01.
    const first = Number(
      /tick (\d+)/.exec(stream.events.find((e) => e.event === 'stdout' && e.data.hostname === 'web-01')?.data.text)?.[1],
    );
    await stream.waitFor(
      (e) => e.event === 'stdout' && e.data.hostname === 'web-01' && Number(/tick (\d+)/.exec(e.data.text)?.[1]) > first + 2,
    );
    await closeAndCheck(stream, job.data.job_id);
  });

  it('streams stats samples tagged with the host, until the client leaves', async () => {
    const stream = new EventStreamClient(`${fleet.url}/node/role:web/container/docker/ticker/stats?stream=true&timeout=120`, {
      authorization: `Bearer ${fleet.adminKey}`,
    });
    const job = await stream.waitFor((e) => e.event === 'job');
    expect(job.data.hosts).toEqual(['web-01', 'web-02']);
    const samplesFrom = (host: string) => stream.events.filter((e) => e.event === 'stats' && e.data.hostname === host).length;
    for (const host of ['web-01', 'web-02']) {
      await stream.waitFor((e) => e.event === 'stats' && e.data.hostname === host && samplesFrom(host) >= 2);
      const sample = stream.events.find((e) => e.event === 'stats' && e.data.hostname === host);
      expect(sample?.data.memory_stats).toBeDefined();
    }
    await closeAndCheck(stream, job.data.job_id);
  });

  it('still answers one sample and a plain log without the stream flags', async () => {
    const stats = await api(fleet, 'GET', '/node/web-01/container/docker/ticker/stats');
    expect(stats.body.results[0].stats.memory_stats).toBeDefined();
    const logs = await api(fleet, 'GET', '/node/web-01/container/docker/ticker/logs?tail=2');
    expect(logs.body.results[0].stdout).toMatch(/tick \d+/);
  });
});
