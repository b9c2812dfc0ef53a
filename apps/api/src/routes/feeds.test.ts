/**
 * The feeds' own logic (which rows and jobs a key hears, when a feed ends) through the real HTTP
 * stack, with the job store, the result feed and the roster replaced by ones the test drives. The
 * real fleet is in test/e2e/ui.test.ts and test/security/api-feeds.test.ts.
 */
import { mintToken } from '@fleet/api-keys';
import type { HostRow, JobRecord } from '@fleet/contracts/protocol';
import type { AgentView } from '../agents/roster';
import type { JobClient } from '../jobs/client';
import { jobRecordOf, serveTestApp } from '../test-app';

const SECRET = 'feeds-unit-secret-0123456789abcdefgh';
const LABELS: Record<string, Record<string, string>> = { 'db-01': { role: 'db' }, 'web-01': { role: 'web' } };

/** Rows, records and agent changes, pushed by the test as the broker would. */
class FakeFeed {
  rowListeners = new Map<string, (hostname: string, row: HostRow) => void>();
  anyRow = new Set<(jobId: string, hostname: string, row: HostRow) => void>();
  records = new Set<(record: JobRecord) => void>();
  watch(jobId: string, listener: (hostname: string, row: HostRow) => void) {
    this.rowListeners.set(jobId, listener);
    return () => this.rowListeners.delete(jobId);
  }
  onReconnect() {
    return () => undefined;
  }
  watchAllRows(listener: (jobId: string, hostname: string, row: HostRow) => void) {
    this.anyRow.add(listener);
    return () => this.anyRow.delete(listener);
  }
  watchRecords(listener: (record: JobRecord) => void) {
    this.records.add(listener);
    return () => this.records.delete(listener);
  }
  row(jobId: string, row: HostRow) {
    this.rowListeners.get(jobId)?.(row.hostname, row);
    this.anyRow.forEach((listener) => listener(jobId, row.hostname, row));
  }
}

const agent = (hostname: string): AgentView =>
  ({
    hostname,
    labels: LABELS[hostname],
    requested_labels: LABELS[hostname],
    enrollment: 'accepted',
    live: true,
    drained: false,
    last_seen_at: new Date().toISOString(),
  }) as AgentView;

const feed = new FakeFeed();
const jobs = new Map<string, JobRecord>();
let agentChange: (hostname: string) => void = () => undefined;
let url: string;
let close: () => void;

beforeAll(async () => {
  const { url: served, server } = await serveTestApp({
    jwtSecret: SECRET,
    jobs: { streamBufferBytes: 1 << 20 } as unknown as JobClient,
    store: {
      getRecord: async (id: string) => jobs.get(id),
      view: async (r: JobRecord) => ({
        ...r,
        status: 'running',
        results: r.hosts.map((hostname) => ({ hostname, status: 'running', changed: false })),
      }),
    } as never,
    feed: feed as never,
    identities: {} as never,
    roster: {
      list: () => Object.keys(LABELS).map(agent),
      get: (hostname: string) => (LABELS[hostname] ? agent(hostname) : undefined),
      labelsOf: (hostname: string) => LABELS[hostname],
      onChange: (listener: (hostname: string) => void) => ((agentChange = listener), () => undefined),
    } as never,
  });
  url = served;
  close = () => (server.closeAllConnections(), server.close());
});

afterAll(() => close());

const key = (role: 'viewer' | 'operator', scope?: string) =>
  mintToken({ secret: SECRET, role, ttlSeconds: 60, ...(scope ? { scope } : {}) });

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- events are asserted field by field; a wrong guess fails the assertion
type Event = { event: string; data: any };

/** Reads events until `until` says stop or the server ends the stream. */
async function readFeed(path: string, bearer: string, during: () => void, until: (events: Event[]) => boolean) {
  const controller = new AbortController();
  const res = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${bearer}` }, signal: controller.signal });
  const events: Event[] = [];
  if (res.status !== 200) return { status: res.status, events };
  const decoder = new TextDecoder();
  let buffer = '';
  let acted = false;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    const blocks = buffer.split('\n\n');
    buffer = blocks.pop() ?? '';
    for (const block of blocks.filter((b) => b.startsWith('event: '))) {
      const [first, second] = block.split('\n');
      events.push({ event: first.slice(7), data: JSON.parse(second.slice(6)) });
    }
    if (!acted) {
      acted = true;
      setTimeout(during, 20);
    }
    if (until(events)) break;
  }
  controller.abort();
  return { status: res.status, events };
}

describe('GET /feed/job/{job_id}', () => {
  it('sends the job, the rows of its own hosts as they change (once each), then ends settled', async () => {
    const job = jobRecordOf('docker.container.list', ['db-01', 'web-01']);
    jobs.set(job.job_id, job);
    const ok = (hostname: string): HostRow => ({ hostname, status: 'ok', changed: false });
    const { events } = await readFeed(
      `/feed/job/${job.job_id}`,
      key('viewer'),
      () => {
        feed.row(job.job_id, ok('web-01'));
        feed.row(job.job_id, ok('web-01'));
        feed.row(job.job_id, { hostname: 'web-01', status: 'running', changed: false });
        feed.row(job.job_id, ok('db-01'));
      },
      (seen) => seen.some((e) => e.event === 'end'),
    );
    expect(events.map((e) => e.event)).toEqual(['job', 'row', 'row', 'end']);
    expect(events[3].data).toMatchObject({ reason: 'settled', job: { status: 'ok', results: [ok('db-01'), ok('web-01')] } });
  });

  it('a key scoped to role:web hears only web-01; a job of db-01 alone is a 404, an exec is a 403 for a viewer', async () => {
    const job = jobRecordOf('docker.container.list', ['db-01', 'web-01']);
    jobs.set(job.job_id, job);
    const { events } = await readFeed(
      `/feed/job/${job.job_id}`,
      key('viewer', 'role:web'),
      () => {
        feed.row(job.job_id, { hostname: 'db-01', status: 'ok', changed: false, message: 'db secret' });
        feed.row(job.job_id, { hostname: 'web-01', status: 'ok', changed: false });
      },
      (seen) => seen.some((e) => e.event === 'end'),
    );
    expect(events[0].data.hosts).toEqual(['web-01']);
    expect(JSON.stringify(events)).not.toContain('db-01');
    const dbOnly = jobRecordOf('docker.container.list', ['db-01']);
    jobs.set(dbOnly.job_id, dbOnly);
    expect(
      (await fetch(`${url}/feed/job/${dbOnly.job_id}`, { headers: { authorization: `Bearer ${key('viewer', 'role:web')}` } })).status,
    ).toBe(404);
    const exec = jobRecordOf('docker.container.exec', ['web-01']);
    jobs.set(exec.job_id, exec);
    expect((await fetch(`${url}/feed/job/${exec.job_id}`, { headers: { authorization: `Bearer ${key('viewer')}` } })).status).toBe(403);
  });
});

describe('GET /feed/jobs', () => {
  it('announces the jobs a key may read, cut to its hosts, and their outcome; leaves out the rest', async () => {
    const exec = jobRecordOf('docker.container.exec', ['web-01']);
    const dbList = jobRecordOf('docker.container.list', ['db-01']);
    const allList = jobRecordOf('docker.container.list', ['db-01', 'web-01']);
    const { events } = await readFeed(
      '/feed/jobs',
      key('viewer', 'role:web'),
      () => {
        for (const r of [exec, dbList, allList]) feed.records.forEach((listener) => listener(r));
        feed.row(allList.job_id, { hostname: 'db-01', status: 'failed', changed: false });
        feed.row(allList.job_id, { hostname: 'web-01', status: 'ok', changed: false });
      },
      (seen) => seen.filter((e) => e.event === 'job').length >= 2,
    );
    expect(events.map((e) => [e.data.job_id, e.data.status])).toEqual([
      [allList.job_id, 'running'],
      [allList.job_id, 'ok'],
    ]);
    expect(JSON.stringify(events)).not.toContain('db-01');
  });
});

describe('GET /feed/agents', () => {
  it('sends the agents in scope, then changes to them only', async () => {
    const { events } = await readFeed(
      '/feed/agents',
      key('viewer', 'role:web'),
      () => {
        agentChange('db-01');
        agentChange('web-01');
      },
      (seen) => seen.some((e) => e.event === 'agent'),
    );
    expect(events[0]).toEqual({ event: 'agents', data: { agents: [expect.objectContaining({ hostname: 'web-01' })] } });
    expect(events.slice(1).map((e) => [e.event, e.data.hostname])).toEqual([['agent', 'web-01']]);
  });
});
