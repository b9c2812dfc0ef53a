import { generateKeyPairSync } from 'node:crypto';
import type { PubAck } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import pino from 'pino';
import { jobSubject, type HostRow, type JobRecord } from '@fleet/contracts/protocol';
import type { AgentView } from '../agents/roster';
import { TargetResolver } from '../targets/resolve';
import { JobClient } from './client';
import { JobStoreUnavailableError } from './job-errors';
import { effectiveRow, jobStatus, timeoutRow } from './rows';
import type { JetStreamPublisher } from './publish';
import type { ResultFeed, RowListener } from './feed';
import type { SecretVault } from './secrets';

const GRANT_KEY = generateKeyPairSync('ed25519').privateKey;
import type { JobStore } from './store';

/** Every subject a dispatch was published on, in order. */
const published: string[] = [];

/** The broker as the job client sees it, refusing the dispatch to one host's subject. */
function brokerRefusing(refuseSubject: string): JetStreamPublisher {
  return {
    publish: async (subject: string): Promise<PubAck> => {
      published.push(subject);
      if (subject === refuseSubject) throw new Error('maximum messages exceeded');
      return { stream: 'FLEET_JOBS', seq: 1, duplicate: false, domain: '' };
    },
  };
}

function agent(hostname: string): AgentView {
  return {
    hostname,
    labels: {},
    requested_labels: {},
    enrollment: 'accepted',
    drained: false,
    live: true,
    agent_version: 't',
    engine: { healthy: true },
    started_at: '',
    last_seen_at: '',
  };
}

const HOSTS = ['web-01', 'web-02'].map(agent);
const resolver = new TargetResolver({
  list: () => HOSTS,
  hostnames: () => HOSTS.map((a) => a.hostname),
  get: (h) => HOSTS.find((a) => a.hostname === h),
  countLive: () => HOSTS.length,
  labelsOf: (h) => HOSTS.find((a) => a.hostname === h)?.labels,
});

/** Rows written to the store reach the feed, as KV writes reach the gateway's bucket subscription. */
class MemoryFleet {
  readonly written = new Map<string, HostRow>();
  readonly records = new Map<string, JobRecord>();
  saveFails = false;
  /** Until it settles, saving a record waits: what was dispatched meanwhile did not wait for the store. */
  holdSave?: Promise<void>;
  private readonly listeners = new Map<string, RowListener>();

  readonly feed = {
    watch: (jobId: string, listener: RowListener) => {
      this.listeners.set(jobId, listener);
      return () => this.listeners.delete(jobId);
    },
    onReconnect: () => () => undefined,
  } as unknown as ResultFeed;

  readonly store = {
    save: async (record: JobRecord) => {
      this.records.set(record.job_id, record);
      await this.holdSave;
      if (this.saveFails) throw new Error('TIMEOUT');
    },
    recordUndelivered: async (record: JobRecord, hostname: string, reason: string) =>
      this.write(record.job_id, {
        hostname,
        status: 'failed',
        changed: false,
        error: `job not delivered to the agent: ${reason}`,
        error_code: 503,
      }),
    storedRow: async (jobId: string, hostname: string) => this.written.get(`${jobId}.${hostname}`),
    getRecord: async (jobId: string) => this.records.get(jobId),
    view: async (record: JobRecord) => {
      const now = Date.now();
      const results = record.hosts.map((hostname) => effectiveRow(record, hostname, this.written.get(`${record.job_id}.${hostname}`), now));
      return { ...record, status: jobStatus(results), results };
    },
    // As the store does: a host without a row gets the timeout; a running one is marked only once its deadline has passed.
    recordTimeout: async (record: JobRecord, hostname: string): Promise<HostRow> => {
      const stored = this.written.get(`${record.job_id}.${hostname}`);
      return stored ? effectiveRow(record, hostname, stored, Date.now()) : timeoutRow(record, hostname);
    },
  } as unknown as JobStore;

  write(jobId: string, row: HostRow): void {
    this.written.set(`${jobId}.${row.hostname}`, row);
    this.announce(jobId, row);
  }

  /** A row an agent announced on core NATS, not (yet) in the results bucket. */
  announce(jobId: string, row: HostRow): void {
    this.listeners.get(jobId)?.(row.hostname, row);
  }

  watching(): number {
    return this.listeners.size;
  }
}

function clientOf(fleet: MemoryFleet, { released = [] as string[], refuseSubject = '', brokerDown = false } = {}): JobClient {
  const vault = { hold: () => undefined, release: (jobId: string) => released.push(jobId) } as unknown as SecretVault;
  const nc = { publish: () => undefined } as unknown as NatsConnection;
  return new JobClient({
    nc,
    js: brokerRefusing(refuseSubject),
    store: fleet.store,
    feed: fleet.feed,
    resolver,
    vault,
    log: pino({ level: 'silent' }),
    hostGrantKey: GRANT_KEY,
    brokerDown: () => brokerDown,
  });
}

const request = { operation: 'docker.container.list' as const, target: '_all', params: {}, timeoutSeconds: 5, caller: 'test' };

describe('JobClient', () => {
  it('gives a host the broker would not take the job for a failed 503 row at once, and runs it on the others', async () => {
    const fleet = new MemoryFleet();
    const job = await clientOf(fleet, { refuseSubject: jobSubject('web-02') }).start(request);
    expect(fleet.written.get(`${job.record.job_id}.web-02`)).toMatchObject({
      status: 'failed',
      error_code: 503,
      error: expect.stringContaining('maximum messages exceeded'),
    });

    fleet.write(job.record.job_id, { hostname: 'web-01', status: 'ok', changed: false });
    expect((await job.rows).map((row) => [row.hostname, row.status, row.error_code])).toEqual([
      ['web-01', 'ok', undefined],
      ['web-02', 'failed', 503],
    ]);
  });

  it('fails as job store unavailable when a mutation cannot be stored, sends it nowhere, and stops collecting and holding its secret', async () => {
    published.length = 0;
    const fleet = new MemoryFleet();
    fleet.saveFails = true;
    const released: string[] = [];
    const mutation = { ...request, operation: 'docker.image.pull' as const, secret: 'registry-credential' };
    const failure = clientOf(fleet, { released }).start(mutation);
    await expect(failure).rejects.toBeInstanceOf(JobStoreUnavailableError);
    await expect(failure).rejects.toThrow(/not sent to any host/);
    expect(published).toEqual([]);
    expect(fleet.watching()).toBe(0);
    expect(released).toHaveLength(1);
  });

  it('refuses a job at once as job store unavailable while the broker is unreachable: nothing stored, sent or collected', async () => {
    published.length = 0;
    const fleet = new MemoryFleet();
    const failure = clientOf(fleet, { brokerDown: true }).start({ ...request, operation: 'docker.container.restart' as const });
    await expect(failure).rejects.toBeInstanceOf(JobStoreUnavailableError);
    await expect(failure).rejects.toThrow(/not sent to any host/);
    expect(fleet.records.size).toBe(0);
    expect(published).toEqual([]);
    expect(fleet.watching()).toBe(0);
  });

  it('stores a mutation before sending it, and sends a read while its record is being stored', async () => {
    const fleet = new MemoryFleet();
    let release = () => undefined as void;
    fleet.holdSave = new Promise<void>((resolve) => (release = resolve));
    for (const [operation, sentDuringSave] of [
      ['docker.container.create', 0],
      ['docker.container.list', 2],
    ] as const) {
      published.length = 0;
      const started = clientOf(fleet).start({ ...request, operation });
      await new Promise((resolve) => setImmediate(resolve));
      expect(published).toHaveLength(sentDuringSave);
      release();
      const job = await started;
      expect(published.sort()).toEqual([jobSubject('web-01'), jobSubject('web-02')].sort());
      for (const host of ['web-01', 'web-02']) fleet.write(job.record.job_id, { hostname: host, status: 'ok', changed: false });
      await job.rows;
    }
  });

  it('fails as job store unavailable when a read cannot be stored, saying it may have run, and stops collecting', async () => {
    const fleet = new MemoryFleet();
    fleet.saveFails = true;
    const failure = clientOf(fleet).start(request);
    await expect(failure).rejects.toBeInstanceOf(JobStoreUnavailableError);
    await expect(failure).rejects.toThrow(/changes nothing/);
    expect(fleet.watching()).toBe(0);
  });

  it('answers with the first final row heard for a host, also when it is heard again', async () => {
    const fleet = new MemoryFleet();
    const job = await clientOf(fleet).start(request);
    fleet.write(job.record.job_id, { hostname: 'web-01', status: 'running', changed: false });
    fleet.write(job.record.job_id, { hostname: 'web-01', status: 'ok', changed: false, duration_ms: 1 });
    fleet.write(job.record.job_id, { hostname: 'web-01', status: 'ok', changed: false, duration_ms: 2 });
    fleet.write(job.record.job_id, { hostname: 'web-02', status: 'ok', changed: false, duration_ms: 3 });
    expect((await job.rows).map((row) => row.duration_ms)).toEqual([1, 3]);
  });

  it("stores a read's record before its dispatches go out, and keeps at most 256 of one job's dispatches awaiting their acknowledgement", async () => {
    const many = Array.from({ length: 600 }, (_, i) => agent(`sim-${String(i).padStart(5, '0')}`));
    const wide = new TargetResolver({
      list: () => many,
      hostnames: () => many.map((a) => a.hostname),
      get: (h) => many.find((a) => a.hostname === h),
      countLive: () => many.length,
      labelsOf: () => ({}),
    });
    const order: string[] = [];
    let pending = 0;
    let mostPending = 0;
    const slowBroker: JetStreamPublisher = {
      publish: async (subject: string): Promise<PubAck> => {
        order.push(subject);
        mostPending = Math.max(mostPending, ++pending);
        await new Promise((resolve) => setTimeout(resolve, 1));
        pending--;
        return { stream: 'FLEET_JOBS', seq: 1, duplicate: false, domain: '' };
      },
    };
    const fleet = new MemoryFleet();
    const store = { ...fleet.store, save: async (record: JobRecord) => void order.push(`record ${record.job_id}`) } as unknown as JobStore;
    const vault = { hold: () => undefined, release: () => undefined } as unknown as SecretVault;
    const nc = { publish: () => undefined } as unknown as NatsConnection;
    const client = new JobClient({
      nc,
      js: slowBroker,
      store,
      feed: fleet.feed,
      resolver: wide,
      vault,
      log: pino({ level: 'silent' }),
      hostGrantKey: GRANT_KEY,
    });
    const job = await client.start({ ...request, timeoutSeconds: 30 });
    expect(order[0]).toBe(`record ${job.record.job_id}`);
    expect(order.slice(1).sort()).toEqual(many.map((a) => jobSubject(a.hostname)).sort());
    expect(mostPending).toBe(256);
    for (const host of many) fleet.write(job.record.job_id, { hostname: host.hostname, status: 'ok', changed: false });
    expect(await job.rows).toHaveLength(600);
  });

  it('shows the rows it answered with to a job lookup right after, before their durable write lands', async () => {
    const fleet = new MemoryFleet();
    const client = clientOf(fleet);
    const job = await client.start({ ...request, target: 'web-01' });
    fleet.write(job.record.job_id, { hostname: 'web-01', status: 'running', changed: false });
    fleet.announce(job.record.job_id, { hostname: 'web-01', status: 'ok', changed: false, message: 'heard first' });
    expect(await job.rows).toEqual([{ hostname: 'web-01', status: 'ok', changed: false, message: 'heard first' }]);
    const view = await client.waitFor(job.record.job_id, 0);
    expect(view).toMatchObject({ status: 'ok', results: [{ hostname: 'web-01', status: 'ok', message: 'heard first' }] });
  });

  it('waits for a job another gateway started until its deadline by the wall clock: the host that never answered reads as a 504, not as pending', async () => {
    const fleet = new MemoryFleet();
    const now = Date.now();
    const record: JobRecord = {
      job_id: 'started-elsewhere',
      operation: 'docker.container.list',
      target: 'web-02',
      hosts: ['web-02'],
      caller: 'test',
      created_at: new Date(now).toISOString(),
      deadline: new Date(now + 100).toISOString(),
    };
    await fleet.store.save(record);
    const waiting = clientOf(fleet).waitFor(record.job_id, 10_000);
    await new Promise((resolve) => setTimeout(resolve, 20));
    // The wall clock is stepped back 30 ms during the wait (as NTP may): the timer, on the monotonic
    // clock, comes due while Date.now() is still short of the deadline.
    const wallClock = Date.now.bind(Date);
    const stepped = jest.spyOn(Date, 'now').mockImplementation(() => wallClock() - 30);
    try {
      const view = await waiting;
      expect(view?.results).toEqual([expect.objectContaining({ hostname: 'web-02', status: 'failed', error_code: 504 })]);
    } finally {
      stepped.mockRestore();
    }
  });

  it('answers a host still running at the deadline with the 504 when the wall clock is stepped back during the call', async () => {
    const fleet = new MemoryFleet();
    const job = await clientOf(fleet).start({ ...request, timeoutSeconds: 0.1 });
    fleet.write(job.record.job_id, { hostname: 'web-01', status: 'running', changed: false });
    fleet.write(job.record.job_id, { hostname: 'web-02', status: 'ok', changed: false });
    await new Promise((resolve) => setTimeout(resolve, 20));
    const wallClock = Date.now.bind(Date);
    const stepped = jest.spyOn(Date, 'now').mockImplementation(() => wallClock() - 30);
    try {
      expect((await job.rows).map((row) => [row.hostname, row.status, row.error_code])).toEqual([
        ['web-01', 'failed', 504],
        ['web-02', 'ok', undefined],
      ]);
    } finally {
      stepped.mockRestore();
    }
  });
});
