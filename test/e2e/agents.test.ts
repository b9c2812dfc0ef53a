/**
 * Issue 21, the fleet's registry at scale (README "Agents and heartbeats"), on a real broker and real
 * engines: an idle agent writes no heartbeat until its refresh is due, a change (its engine going down)
 * reaches the bucket at the next check, and `GET /agent` answers pages, filters and counts by state,
 * with each agent's version and build.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { AGENTS_BUCKET, kvSubject, type AgentRecord } from '@fleet/contracts/protocol';
import { assertMatchesContract } from '../support/contract';
import { eventually } from '../support/eventually';
import { api } from '../support/http';
import { connectToFleetNats } from '../support/nats';
import { useTestFleet } from '../support/suite';

jest.setTimeout(180_000);
// Checks every 500 ms; refreshes far apart, so any write in a quiet window is a change, not a refresh.
const fleet = useTestFleet({
  agentEnv: { FLEET_AGENT_HEARTBEAT_MS: '500', FLEET_AGENT_REFRESH_MS: '600000' },
  gatewayEnv: { FLEET_AGENT_TTL_MS: '600000' },
});
let nc: NatsConnection;

beforeAll(async () => {
  nc = await connectToFleetNats(fleet.state);
});

afterAll(async () => {
  await nc?.close();
});

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const hostnamesOf = (body: { agents: { hostname: string }[] }) => body.agents.map((agent) => agent.hostname);

/** Every heartbeat written to the agents bucket while `during` runs, as the broker delivers them. */
async function heartbeatsDuring(during: () => Promise<void>): Promise<AgentRecord[]> {
  const written: AgentRecord[] = [];
  const sub = nc.subscribe(kvSubject(AGENTS_BUCKET, '>'), {
    callback: (_err, msg) => {
      if (msg.data.length > 0) written.push(JSON.parse(new TextDecoder().decode(msg.data)) as AgentRecord);
    },
  });
  try {
    await during();
    await nc.flush();
  } finally {
    sub.unsubscribe();
  }
  return written;
}

async function storedRecord(hostname: string): Promise<AgentRecord | undefined> {
  const entry = await (await new Kvm(nc).open(AGENTS_BUCKET)).get(hostname);
  return entry && entry.length > 0 ? (entry.json() as AgentRecord) : undefined;
}

describe('heartbeats', () => {
  it('idle agents checking every 500 ms write nothing for 4 s (the old scheme wrote 24 records)', async () => {
    const written = await heartbeatsDuring(() => sleep(4_000));
    expect(written).toEqual([]);
    expect((await api(fleet, 'GET', '/agent')).body.counts).toEqual({ online: 3, drained: 0, offline: 0 });
  });

  it('an engine going down is written at the next check and stored in the bucket; it coming back too', async () => {
    const down = await heartbeatsDuring(async () => {
      await fleet.stopEngine('db-01');
      await eventually(
        () => storedRecord('db-01'),
        (record) => expect(record?.engine.healthy).toBe(false),
      );
    });
    expect(down.filter((record) => record.hostname !== 'db-01')).toEqual([]);
    expect(down.at(-1)).toMatchObject({ hostname: 'db-01', engine: { healthy: false } });
    await fleet.startEngine('db-01');
    await eventually(
      () => storedRecord('db-01'),
      (record) => expect(record?.engine.healthy).toBe(true),
    );
    expect((await api(fleet, 'GET', '/agent/db-01')).body.engine).toEqual({ healthy: true });
  });
});

describe('GET /agent', () => {
  it('shows each agent its agent_version and the build the bundle it runs was made as', async () => {
    const res = await api(fleet, 'GET', '/agent');
    assertMatchesContract('agent.list', 200, res.body);
    const version = JSON.parse(readFileSync(join(__dirname, '../../apps/agent/package.json'), 'utf8')).version;
    const builds = new Set(res.body.agents.map((agent: AgentRecord) => agent.build));
    expect(builds.size).toBe(1);
    const [build] = builds as Set<string>;
    expect(build).not.toBe('source');
    // The id is baked into the bundle the agents run (scripts/build.cjs), and the record in the bucket says the same.
    expect(readFileSync(join(__dirname, '../../dist/agent.js'), 'utf8')).toContain(JSON.stringify(build));
    expect(res.body.agents.every((agent: AgentRecord) => agent.agent_version === version)).toBe(true);
    expect(await storedRecord('web-01')).toMatchObject({ agent_version: version, build });
    expect((await api(fleet, 'GET', `/agent?build=${build}&version=${version}`)).body.total).toBe(3);
    expect((await api(fleet, 'GET', '/agent?version=9.9.9')).body).toEqual({
      agents: [],
      total: 0,
      pending: 0,
      counts: { online: 0, drained: 0, offline: 0 },
    });
  });

  it('pages with limit and cursor in hostname order, each page carrying the total and counts', async () => {
    const first = await api(fleet, 'GET', '/agent?limit=2');
    expect(hostnamesOf(first.body)).toEqual(['db-01', 'web-01']);
    expect(first.body).toMatchObject({ total: 3, next_cursor: 'web-01', counts: { online: 3, drained: 0, offline: 0 } });
    const second = await api(fleet, 'GET', `/agent?limit=2&cursor=${first.body.next_cursor}`);
    expect(hostnamesOf(second.body)).toEqual(['web-02']);
    expect(second.body.next_cursor).toBeUndefined();
    assertMatchesContract('agent.list', 200, second.body);
  });

  it('starts a page at an offset among the matching agents, and the cursor goes on from there', async () => {
    const second = await api(fleet, 'GET', '/agent?limit=1&offset=1');
    expect(hostnamesOf(second.body)).toEqual(['web-01']);
    expect(second.body).toMatchObject({ total: 3, next_cursor: 'web-01' });
    expect(hostnamesOf((await api(fleet, 'GET', '/agent?limit=2&offset=1&target=role:web')).body)).toEqual(['web-02']);
    expect((await api(fleet, 'GET', '/agent?offset=3')).body).toMatchObject({ agents: [], total: 3 });
    assertMatchesContract('agent.list', 200, second.body);
  });

  it('filters by target (label selectors, a hostname, _all) on the labels an admin set', async () => {
    expect(hostnamesOf((await api(fleet, 'GET', '/agent?target=role:web')).body)).toEqual(['web-01', 'web-02']);
    expect(hostnamesOf((await api(fleet, 'GET', '/agent?target=zone:eu')).body)).toEqual(['db-01', 'web-01']);
    expect(hostnamesOf((await api(fleet, 'GET', '/agent?target=web-02')).body)).toEqual(['web-02']);
    expect((await api(fleet, 'GET', '/agent?target=_all')).body.total).toBe(3);
  });

  it('lists a drained agent under drained and a stopped one under offline, with live: false', async () => {
    expect((await api(fleet, 'POST', '/agent/web-01/drain')).status).toBe(200);
    await fleet.stopAgent('web-02');
    try {
      // A clean stop deletes the record: the broker no longer holds it, and the gateway says offline at once.
      expect(await storedRecord('web-02')).toBeUndefined();
      const all = await api(fleet, 'GET', '/agent?state=all');
      expect(all.body.counts).toEqual({ online: 1, drained: 1, offline: 1 });
      expect((await api(fleet, 'GET', '/agent?state=drained')).body.agents).toEqual([
        expect.objectContaining({ hostname: 'web-01', drained: true, live: true }),
      ]);
      const offline = await api(fleet, 'GET', '/agent?state=offline');
      expect(offline.body.agents).toEqual([expect.objectContaining({ hostname: 'web-02', live: false, enrollment: 'accepted' })]);
      assertMatchesContract('agent.list', 200, offline.body);
      expect(hostnamesOf((await api(fleet, 'GET', '/agent')).body)).toEqual(['db-01', 'web-01']);
    } finally {
      await api(fleet, 'POST', '/agent/web-01/undrain');
      await fleet.startAgent('web-02');
    }
    expect((await api(fleet, 'GET', '/agent?state=online')).body.total).toBe(3);
  });

  it.each([
    ['limit=0', 'validation_failed'],
    ['limit=1001', 'validation_failed'],
    ['limit=ten', 'validation_failed'],
    ['state=gone', 'validation_failed'],
    ['cursor=..%2Fweb-01', 'validation_failed'],
    ['offset=-1', 'validation_failed'],
    ['offset=1000001', 'validation_failed'],
    ['offset=1&cursor=db-01', 'validation_failed'],
    ['offset=1&offset=2', 'validation_failed'],
    ['offset=1.5', 'validation_failed'],
    ['version=1.0%20OR%201', 'validation_failed'],
    ['target=role:web,,', 'invalid_target'],
    ['target=_any', 'invalid_target'],
  ])('refuses %s with a 400 naming it (%s)', async (query, reason) => {
    const res = await api(fleet, 'GET', `/agent?${query}`);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ code: 400, reason });
    expect(res.body.error.length).toBeGreaterThan(0);
  });
});
