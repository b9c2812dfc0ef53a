import { RetentionPolicy, type JetStreamManager } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { AGENTS_BUCKET, DRAINS_BUCKET, ENROLLMENTS_BUCKET, kvSubjectPrefix, type AgentRecord } from '@fleet/contracts/protocol';
import { AgentRoster, type AgentQuery } from './roster';

const TTL_MS = 75_000;
const encode = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

/**
 * A roster started on empty buckets, fed through its bucket subscriptions the way the broker feeds it:
 * `heartbeat` is an agent's write to fleet_agents, `enrol` and `drain` another replica's writes.
 */
async function startedRoster() {
  const feeds = new Map<string, (err: Error | null, msg: unknown) => void>();
  const nc = {
    subscribe: (subject: string, opts: { callback: (err: Error | null, msg: unknown) => void }) => {
      feeds.set(subject.slice(0, -1), opts.callback);
      return { unsubscribe: () => undefined };
    },
    // A connection that never changes state: no outage (broker-outage.test.ts covers those).
    status: () => ({ [Symbol.asyncIterator]: async function* () {} }),
  } as unknown as NatsConnection;
  const jsm = {
    streams: { info: async () => ({ config: { retention: RetentionPolicy.Workqueue }, state: { messages: 0 } }) },
    consumers: { list: () => ({ [Symbol.asyncIterator]: async function* () {} }) },
  } as unknown as JetStreamManager;
  const bucket = { put: async () => 0, delete: async () => undefined } as unknown as KV;
  const roster = new AgentRoster({ drains: bucket, enrollments: bucket }, jsm, TTL_MS);
  await roster.start(nc);
  const write = (bucketName: string, key: string, value?: unknown) =>
    feeds.get(kvSubjectPrefix(bucketName))!(null, {
      subject: `${kvSubjectPrefix(bucketName)}${key}`,
      data: value === undefined ? new Uint8Array() : encode(value),
      headers: value === undefined ? { get: () => 'DEL' } : undefined,
    });
  return {
    roster,
    heartbeat: (hostname: string, fields: Partial<AgentRecord> = {}) => write(AGENTS_BUCKET, hostname, record(hostname, fields)),
    stopped: (hostname: string) => write(AGENTS_BUCKET, hostname),
    enrol: (hostname: string, labels: Record<string, string>) => write(ENROLLMENTS_BUCKET, hostname, { labels, by: 'admin', at: 'now' }),
    drain: (hostname: string) => write(DRAINS_BUCKET, hostname, { drained: true, by: 'admin', at: 'now' }),
  };
}

function record(hostname: string, fields: Partial<AgentRecord>): AgentRecord {
  return {
    hostname,
    labels: {},
    agent_version: '0.1.0',
    build: 'b1',
    engine: { healthy: true },
    started_at: '2026-12-07T00:00:00.000Z',
    ...fields,
  };
}

const everyone: AgentQuery = { visible: () => true, state: 'all', limit: 100 };
const hostnamesOf = (page: { agents: { hostname: string }[] }) => page.agents.map((agent) => agent.hostname);

afterEach(() => jest.restoreAllMocks());

describe('AgentRoster.page', () => {
  it('pages in hostname order: each page starts after the cursor, the last page has no cursor, the total is every page', async () => {
    const { roster, heartbeat, enrol } = await startedRoster();
    for (const hostname of ['web-03', 'db-01', 'web-01', 'web-02', 'cache-01']) {
      heartbeat(hostname);
      enrol(hostname, { role: hostname.split('-')[0] });
    }
    const first = roster.page({ ...everyone, limit: 2 });
    expect(hostnamesOf(first)).toEqual(['cache-01', 'db-01']);
    expect(first).toMatchObject({ total: 5, next_cursor: 'db-01' });
    const second = roster.page({ ...everyone, limit: 2, after: first.next_cursor });
    expect(hostnamesOf(second)).toEqual(['web-01', 'web-02']);
    const last = roster.page({ ...everyone, limit: 2, after: second.next_cursor });
    expect(hostnamesOf(last)).toEqual(['web-03']);
    expect(last.next_cursor).toBeUndefined();
    expect(last.total).toBe(5);
  });

  it('starts a page at an offset among the matching hosts: the filtered-out ones are not counted, the cursor goes on from there', async () => {
    const { roster, heartbeat, enrol } = await startedRoster();
    for (const hostname of ['web-03', 'db-01', 'web-01', 'web-02', 'cache-01', 'db-02']) {
      heartbeat(hostname);
      enrol(hostname, { role: hostname.split('-')[0] });
    }
    const webOnly = { ...everyone, matches: (_hostname: string, labels: Record<string, string>) => labels.role === 'web' };
    const second = roster.page({ ...webOnly, limit: 1, offset: 1 });
    expect(hostnamesOf(second)).toEqual(['web-02']);
    expect(second).toMatchObject({ total: 3, next_cursor: 'web-02' });
    const last = roster.page({ ...webOnly, limit: 2, offset: 2 });
    expect(hostnamesOf(last)).toEqual(['web-03']);
    expect(last.next_cursor).toBeUndefined();
    expect(hostnamesOf(roster.page({ ...webOnly, limit: 2, offset: 3 }))).toEqual([]);
  });

  it('counts by state: online, drained, offline (silent past the TTL, or accepted and never heard), whatever the state filter', async () => {
    const { roster, heartbeat, enrol, drain } = await startedRoster();
    const now = Date.now();
    jest.spyOn(Date, 'now').mockReturnValue(now);
    heartbeat('web-01');
    heartbeat('web-02');
    heartbeat('web-03');
    drain('web-02');
    enrol('db-01', { role: 'db' });
    jest.spyOn(Date, 'now').mockReturnValue(now + 60_000);
    heartbeat('web-01');
    jest.spyOn(Date, 'now').mockReturnValue(now + TTL_MS + 1);

    const counts = { online: 1, drained: 0, offline: 3 };
    expect(roster.page({ ...everyone, state: 'online' })).toMatchObject({ total: 1, counts });
    expect(hostnamesOf(roster.page({ ...everyone, state: 'offline' }))).toEqual(['db-01', 'web-02', 'web-03']);
    expect(hostnamesOf(roster.page({ ...everyone, state: 'live' }))).toEqual(['web-01']);
    const offline = roster.page({ ...everyone, state: 'offline' }).agents;
    expect(offline[0]).toEqual({
      hostname: 'db-01',
      labels: { role: 'db' },
      requested_labels: {},
      enrollment: 'accepted',
      live: false,
      drained: false,
    });
    expect(offline[2]).toMatchObject({ hostname: 'web-03', live: false, last_seen_at: new Date(now).toISOString() });
  });

  it('a drained live agent is drained, not online; a stopped one (record deleted) is gone unless accepted', async () => {
    const { roster, heartbeat, enrol, drain, stopped } = await startedRoster();
    heartbeat('web-01');
    heartbeat('web-02');
    heartbeat('pending-01');
    enrol('web-01', {});
    enrol('web-02', {});
    drain('web-01');
    stopped('web-02');
    stopped('pending-01');
    expect(roster.page(everyone).counts).toEqual({ online: 0, drained: 1, offline: 1 });
    expect(roster.page({ ...everyone, state: 'offline' }).agents).toEqual([expect.objectContaining({ hostname: 'web-02', live: false })]);
  });

  it('filters by target labels (the ones an admin set, never the requested ones), by version and by build', async () => {
    const { roster, heartbeat, enrol } = await startedRoster();
    heartbeat('web-01', { labels: { role: 'db' }, agent_version: '0.2.0' });
    heartbeat('web-02', { build: 'b2' });
    heartbeat('db-01', { labels: { role: 'web' } });
    enrol('web-01', { role: 'web' });
    enrol('web-02', { role: 'web' });
    const roleWeb = (_hostname: string, labels: Record<string, string>) => labels.role === 'web';
    expect(hostnamesOf(roster.page({ ...everyone, matches: roleWeb }))).toEqual(['web-01', 'web-02']);
    expect(hostnamesOf(roster.page({ ...everyone, agentVersion: '0.2.0' }))).toEqual(['web-01']);
    expect(hostnamesOf(roster.page({ ...everyone, build: 'b2' }))).toEqual(['web-02']);
    expect(roster.page({ ...everyone, agentVersion: '0.2.0' }).counts).toEqual({ online: 1, drained: 0, offline: 0 });
  });

  it('a host the caller may not see is neither listed nor counted, and a cursor naming it only says where to start', async () => {
    const { roster, heartbeat } = await startedRoster();
    for (const hostname of ['a-01', 'b-01', 'c-01', 'd-01']) heartbeat(hostname);
    const scoped: AgentQuery = { ...everyone, visible: (hostname) => hostname !== 'b-01' && hostname !== 'd-01' };
    expect(roster.page(scoped)).toMatchObject({ total: 2, counts: { online: 2, drained: 0, offline: 0 } });
    expect(hostnamesOf(roster.page({ ...scoped, after: 'b-01' }))).toEqual(['c-01']);
    expect(hostnamesOf(roster.page({ ...scoped, after: 'a-00' }))).toEqual(['a-01', 'c-01']);
  });

  it('shows each agent its build and version as its record says', async () => {
    const { roster, heartbeat } = await startedRoster();
    heartbeat('web-01', { agent_version: '0.3.0', build: 'abc123' });
    expect(roster.page(everyone).agents[0]).toMatchObject({ agent_version: '0.3.0', build: 'abc123', live: true });
  });
});
