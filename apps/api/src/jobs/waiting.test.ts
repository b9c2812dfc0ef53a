import { generateKeyPairSync } from 'node:crypto';
import type { PubAck } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import pino from 'pino';
import { jobSubject, type HostRow, type JobRecord } from '@fleet/contracts/protocol';
import type { AgentView } from '../agents/roster';
import { TargetResolver } from '../targets/resolve';
import type { JobRequest } from './job-request';
import type { JobStore } from './store';
import { WaitingRoom, type WaitingRoomDeps, type WaitingRoster } from './waiting';

const GRANT_KEY = generateKeyPairSync('ed25519').privateKey;
const log = pino({ level: 'silent' });

/** The broker as the waiting rooms of two replicas share it: one bucket, one job store, the dispatches published. */
class SharedBroker {
  readonly keys = new Set<string>();
  readonly records = new Map<string, JobRecord>();
  readonly rows = new Map<string, HostRow>();
  readonly published: string[] = [];
  readonly revoked = new Set<string>();

  readonly kv = {
    create: async (key: string) => {
      if (this.keys.has(key)) throw new Error('wrong last sequence');
      this.keys.add(key);
      return 1;
    },
    get: async (key: string) => (this.keys.has(key) ? { operation: 'PUT' } : null),
  };

  readonly store = {
    save: async (record: JobRecord) => void this.records.set(record.job_id, record),
    getRecord: async (jobId: string) => this.records.get(jobId),
    addHost: async (jobId: string, hostname: string) => {
      const record = this.records.get(jobId) as JobRecord;
      if (!record.hosts.includes(hostname)) this.records.set(jobId, { ...record, hosts: [...record.hosts, hostname] });
    },
    recordSkipped: async (jobId: string, row: HostRow) => {
      if (!this.rows.has(`${jobId}.${row.hostname}`)) this.rows.set(`${jobId}.${row.hostname}`, row);
    },
    recordUndelivered: async () => undefined,
  };

  readonly js = {
    publish: async (subject: string): Promise<PubAck> => {
      this.published.push(subject);
      return { stream: 'FLEET_JOBS', seq: 1, duplicate: false, domain: '' };
    },
  };
}

/** A roster whose hosts come and go as a test says, telling its listeners as the real one does on a heartbeat. */
class FakeRoster implements WaitingRoster {
  readonly live = new Map<string, AgentView>();
  readonly enrolled = new Map<string, Record<string, string>>();
  private readonly listeners = new Set<(hostname: string) => void>();

  appear(hostname: string, labels: Record<string, string>): void {
    this.enrolled.set(hostname, labels);
    this.live.set(hostname, agentView(hostname, labels));
    this.listeners.forEach((listener) => listener(hostname));
  }

  list = () => [...this.live.values()];
  hostnames = () => [...this.enrolled.keys()].sort();
  get = (hostname: string) => this.live.get(hostname);
  countLive = () => this.live.size;
  labelsOf = (hostname: string) => this.enrolled.get(hostname);
  onChange(listener: (hostname: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

function agentView(hostname: string, labels: Record<string, string>): AgentView {
  return {
    hostname,
    labels,
    requested_labels: labels,
    enrollment: 'accepted',
    drained: false,
    live: true,
    agent_version: 't',
    engine: { healthy: true },
    started_at: '',
    last_seen_at: '',
  };
}

/** A replica's waiting room on the shared broker and its own view of the roster. */
async function replica(broker: SharedBroker, roster: FakeRoster): Promise<WaitingRoom> {
  const deps: WaitingRoomDeps = {
    kv: broker.kv as never,
    jsm: { streams: { info: async () => ({ state: { messages: 0 } }) } } as never,
    js: broker.js,
    store: broker.store as unknown as JobStore,
    roster,
    resolver: new TargetResolver(roster),
    collector: { collectRows: () => ({ rows: Promise.resolve([]), abandon: () => undefined, accept: () => undefined }) },
    log,
    hostGrantKey: GRANT_KEY,
    isRevoked: (keyId) => broker.revoked.has(keyId),
    retentionSeconds: 7 * 86_400,
  };
  const room = new WaitingRoom(deps);
  await room.start({ subscribe: () => ({ unsubscribe: () => undefined }) } as unknown as NatsConnection);
  return room;
}

function request(target: string, scope?: string): JobRequest {
  return {
    operation: 'docker.container.create',
    target,
    params: { body: { image: 'local/busybox:latest', name: 'edge-app' } },
    timeoutSeconds: 30,
    caller: 'ops',
    keyId: 'key-1',
    scope,
    authority: { permissions: ['docker:write'], expiresAt: Math.floor(Date.now() / 1000) + 3600 },
  };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

describe('WaitingRoom', () => {
  let rooms: WaitingRoom[] = [];
  afterEach(() => rooms.forEach((room) => room.stop()));

  it('answers with a waiting row for a known offline host and delivers the job once when two replicas hear it', async () => {
    const broker = new SharedBroker();
    const [rosterA, rosterB] = [new FakeRoster(), new FakeRoster()];
    for (const roster of [rosterA, rosterB]) roster.enrolled.set('edge-01', { role: 'edge' });
    const [a, b] = (rooms = [await replica(broker, rosterA), await replica(broker, rosterB)]);
    const job = await a.open(request('role:edge'), 600);
    expect(await job.rows).toMatchObject([{ hostname: 'edge-01', status: 'waiting', waiting_until: job.record.wait?.until }]);
    // Replica B learns of the job as it would from the bucket's feed.
    (b as unknown as { heardEntry(key: string, value: Uint8Array): void }).heardEntry(
      `job.${job.record.job_id}`,
      new TextEncoder().encode(JSON.stringify({ target: 'role:edge', until: Date.parse(job.record.wait?.until as string) })),
    );
    rosterA.appear('edge-01', { role: 'edge' });
    rosterB.appear('edge-01', { role: 'edge' });
    await settle();
    expect(broker.published).toEqual([jobSubject('edge-01')]);
    expect(broker.keys.has(`sent.${job.record.job_id}.edge-01`)).toBe(true);
  });

  it('delivers to a host enrolled after the call that matches, and adds it to the record', async () => {
    const broker = new SharedBroker();
    const roster = new FakeRoster();
    rooms = [await replica(broker, roster)];
    const job = await rooms[0].open(request('role:edge'), 600);
    expect(await job.rows).toEqual([]);
    roster.appear('web-09', { role: 'web' });
    roster.appear('edge-07', { role: 'edge', zone: 'eu' });
    await settle();
    expect(broker.published).toEqual([jobSubject('edge-07')]);
    expect(broker.records.get(job.record.job_id)?.hosts).toEqual(['edge-07']);
  });

  it("never delivers a scoped key's job to a host whose admin labels lie outside the scope at delivery", async () => {
    const broker = new SharedBroker();
    const roster = new FakeRoster();
    roster.enrolled.set('edge-01', { role: 'edge', zone: 'eu' });
    rooms = [await replica(broker, roster)];
    const job = await rooms[0].open(request('edge-01', 'zone:eu'), 600);
    expect(await job.rows).toMatchObject([{ hostname: 'edge-01', status: 'waiting' }]);
    roster.appear('edge-01', { role: 'edge', zone: 'us' });
    await settle();
    expect(broker.published).toEqual([]);
  });

  it("delivers nothing once the key is revoked, and ends the wait with each host's reason", async () => {
    const broker = new SharedBroker();
    const roster = new FakeRoster();
    roster.enrolled.set('edge-01', { role: 'edge' });
    rooms = [await replica(broker, roster)];
    const job = await rooms[0].open(request('edge-01'), 600);
    broker.revoked.add('key-1');
    roster.appear('edge-01', { role: 'edge' });
    await settle();
    expect(broker.published).toEqual([]);
    expect(broker.rows.get(`${job.record.job_id}.edge-01`)).toMatchObject({
      status: 'skipped',
      skipped_reason: expect.stringContaining('revoked'),
    });
  });

  it('refuses `_any` and a job that carries environment values before anything is stored', async () => {
    const broker = new SharedBroker();
    rooms = [await replica(broker, new FakeRoster())];
    await expect(rooms[0].open(request('_any'), 60)).rejects.toThrow("'_any' runs on one live host now");
    const withEnv = { ...request('role:edge'), params: { body: { image: 'x', env: { TOKEN: 'secret' } } } };
    await expect(rooms[0].open(withEnv, 60)).rejects.toThrow('environment values');
    expect(broker.records.size).toBe(0);
    expect(broker.keys.size).toBe(0);
  });
});
