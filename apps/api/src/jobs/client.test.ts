import type { PubAck } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import pino from 'pino';
import { jobSubject, type HostRow, type JobRecord } from '@fleet/contracts/protocol';
import type { AgentView } from '../agents/roster';
import { TargetResolver } from '../targets/resolve';
import { JobClient } from './client';
import { JobStoreUnavailableError } from './errors';
import type { JetStreamPublisher } from './publish';
import type { ResultFeed, RowListener } from './feed';
import type { SecretVault } from './secrets';
import type { JobStore } from './store';

/** The broker as the job client sees it, refusing the dispatch to one host's subject. */
function brokerRefusing(refuseSubject: string): JetStreamPublisher {
  return {
    publish: async (subject: string): Promise<PubAck> => {
      if (subject === refuseSubject) throw new Error('maximum messages exceeded');
      return { stream: 'FLEET_JOBS', seq: 1, duplicate: false, domain: '' };
    },
  };
}

function agent(hostname: string): AgentView {
  return { hostname, labels: {}, drained: false, live: true, agent_version: 't', engine: { healthy: true }, started_at: '', last_seen_at: '' };
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
  saveFails = false;
  private readonly listeners = new Map<string, RowListener>();

  readonly feed = {
    watch: (jobId: string, listener: RowListener) => {
      this.listeners.set(jobId, listener);
      return () => this.listeners.delete(jobId);
    },
    onReconnect: () => () => undefined,
  } as unknown as ResultFeed;

  readonly store = {
    save: async () => {
      if (this.saveFails) throw new Error('TIMEOUT');
    },
    recordUndelivered: async (record: JobRecord, hostname: string, reason: string) =>
      this.write(record.job_id, { hostname, status: 'failed', changed: false, error: `job not delivered to the agent: ${reason}`, error_code: 503 }),
    storedRow: async (jobId: string, hostname: string) => this.written.get(`${jobId}.${hostname}`),
    recordTimeout: async (_record: JobRecord, hostname: string): Promise<HostRow> => ({ hostname, status: 'failed', changed: false, error: 'timeout', error_code: 504 }),
  } as unknown as JobStore;

  write(jobId: string, row: HostRow): void {
    this.written.set(`${jobId}.${row.hostname}`, row);
    this.listeners.get(jobId)?.(row.hostname, row);
  }

  watching(): number {
    return this.listeners.size;
  }
}

function clientOf(fleet: MemoryFleet, { released = [] as string[], refuseSubject = '' } = {}): JobClient {
  const vault = { hold: () => undefined, release: (jobId: string) => released.push(jobId) } as unknown as SecretVault;
  const nc = { publish: () => undefined } as unknown as NatsConnection;
  return new JobClient({ nc, js: brokerRefusing(refuseSubject), store: fleet.store, feed: fleet.feed, resolver, vault, log: pino({ level: 'silent' }) });
}

const request = { operation: 'docker.container.list' as const, target: '_all', params: {}, timeoutSeconds: 5, caller: 'test' };

describe('JobClient', () => {
  it('gives a host the broker would not take the job for a failed 503 row at once, and runs it on the others', async () => {
    const fleet = new MemoryFleet();
    const job = await clientOf(fleet, { refuseSubject: jobSubject('web-02') }).start(request);
    expect(fleet.written.get(`${job.record.job_id}.web-02`)).toMatchObject({ status: 'failed', error_code: 503, error: expect.stringContaining('maximum messages exceeded') });

    fleet.write(job.record.job_id, { hostname: 'web-01', status: 'ok', changed: false });
    expect((await job.rows).map((row) => [row.hostname, row.status, row.error_code])).toEqual([
      ['web-01', 'ok', undefined],
      ['web-02', 'failed', 503],
    ]);
  });

  it('fails as job store unavailable when the job cannot be stored, sends nothing, and stops collecting and holding its secret', async () => {
    const fleet = new MemoryFleet();
    fleet.saveFails = true;
    const released: string[] = [];
    await expect(clientOf(fleet, { released }).start({ ...request, secret: 'registry-credential' })).rejects.toBeInstanceOf(JobStoreUnavailableError);
    expect(fleet.watching()).toBe(0);
    expect(released).toHaveLength(1);
  });
});
