/**
 * Issue 17, items 4 and 7. Job rows, job feeds and the audit trail were scoped by the labels an
 * agent reports about itself (its registry record), not the ones an admin gave it (its enrolment):
 * db-01 here asks for role=web and an admin enrolled it as role=db. And 403-versus-404 told a
 * scoped key which hosts and labels exist outside its scope. Now a scope judges every host by its
 * enrolment, live or not, and answers one 404 for whatever lies outside, existing or not. Last,
 * /metrics of a fleet started like `fleet up` answers no one without its token.
 */
import { randomUUID } from 'node:crypto';
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { AGENTS_BUCKET, ENROLLMENTS_BUCKET } from '@fleet/contracts/protocol';
import { BUSYBOX_IMAGE } from '@fleet/deploy';
import { attack } from '../support/attacks';
import { countContainers } from '../support/docker';
import { api } from '../support/http';
import { connectToFleetNats } from '../support/nats';
import { EventStreamClient } from '../support/sse';
import { useTestFleet } from '../support/suite';

jest.setTimeout(180_000);
const fleet = useTestFleet({
  agents: [
    { hostname: 'web-01', labels: { role: 'web', zone: 'eu.west' } },
    { hostname: 'web-02', labels: { role: 'web', zone: 'us.east' } },
    // Asks for role=web; the admin enrols it as role=db below.
    { hostname: 'db-01', labels: { role: 'web', zone: 'eu.west' } },
  ],
  agentEnv: { FLEET_AGENT_HEARTBEAT_MS: '500' },
});
const CONTAINER = 'g17-scope-holder';
const WEB_02_LABELS = { role: 'web', zone: 'us.east' };
let nc: NatsConnection;
let webAdmin: string;

beforeAll(async () => {
  nc = await connectToFleetNats(fleet.state);
  webAdmin = fleet.mintKey('admin', { scope: 'role:web', subject: 'g17-web-admin' });
  expect((await api(fleet, 'PUT', '/agent/db-01/labels', { body: { labels: { role: 'db', zone: 'eu.west' } } })).status).toBe(200);
  const created = await api(fleet, 'POST', '/node/_all/container/docker', {
    body: { image: BUSYBOX_IMAGE, name: CONTAINER, cmd: ['sleep', '3600'], auto_start: true },
  });
  expect(created.status).toBe(202);
});

afterAll(async () => {
  await nc?.close();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const mentions = (body: unknown, text: string) => (typeof body === 'string' ? body : JSON.stringify(body)).includes(text);

async function until(check: () => Promise<boolean> | boolean, what: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (await check()) return;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** An exec printing a secret of its own: a response holds it only through that job's rows. */
async function exec(target: string): Promise<{ id: string; secret: string }> {
  const secret = `SCOPESECRET-${randomUUID()}`;
  const res = await api(fleet, 'POST', `/node/${target}/container/docker/${CONTAINER}/exec`, {
    body: { cmd: ['sh', '-c', `echo ${secret}`] },
  });
  expect(res.status).toBe(202);
  expect(res.body.results.every((row: { stdout: string }) => row.stdout === `${secret}\n`)).toBe(true);
  return { id: res.body.job_id, secret };
}

async function bucketValue(bucket: string, key: string): Promise<{ labels: Record<string, string> }> {
  const entry = await (await new Kvm(nc).open(bucket)).get(key);
  return JSON.parse(entry?.string() ?? 'null');
}

async function setLabels(hostname: string, labels: Record<string, string>): Promise<void> {
  expect((await api(fleet, 'PUT', `/agent/${hostname}/labels`, { body: { labels } })).status).toBe(200);
  expect((await bucketValue(ENROLLMENTS_BUCKET, hostname)).labels).toEqual(labels);
}

function openFeed(path: string, key: string): EventStreamClient {
  return new EventStreamClient(`${fleet.url}${path}`, { authorization: `Bearer ${key}`, accept: 'text/event-stream' });
}

/** Every read of a job's rows a key has: the job, its long-poll, the list, the job's feed, the audit trail. */
async function readsOf(key: string, { id: jobId }: { id: string }) {
  // Audit entries are written after the response.
  await sleep(500);
  return {
    get: await api(fleet, 'GET', `/job/${jobId}`, { key }),
    wait: await api(fleet, 'GET', `/job/${jobId}?wait=1`, { key }),
    list: await api(fleet, 'GET', '/job?limit=200', { key }),
    feed: await api(fleet, 'GET', `/feed/job/${jobId}`, { key }),
    audit: await api(fleet, 'GET', '/audit?limit=200', { key }),
  };
}

/** What a key that may not see the job reads of it: 404s as for a job that never was, and the job nowhere. */
function expectUnseen(
  reads: Awaited<ReturnType<typeof readsOf>>,
  { id: jobId, secret }: { id: string; secret: string },
  hostname: string,
): void {
  const notFound = { error: 'job not found', details: `no job '${jobId}' (it may have expired)`, code: 404, reason: 'not_found' };
  expect({ get: reads.get.body, wait: reads.wait.body, feed: reads.feed.body }).toEqual({ get: notFound, wait: notFound, feed: notFound });
  expect(reads.list.body.jobs.map((job: { job_id: string }) => job.job_id)).not.toContain(jobId);
  expect(reads.audit.status).toBe(200);
  const audited = reads.audit.body.entries.filter(
    (entry: { job_id?: string; target?: string }) => entry.job_id === jobId || entry.target === hostname,
  );
  expect(audited).toEqual([]);
  for (const [name, res] of Object.entries(reads)) expect({ name, leaked: mentions(res.body, secret) }).toEqual({ name, leaked: false });
}

describe('labels an agent reports about itself', () => {
  attack('db-01 reports role:web, its enrolment says role:db: a role:web key reads none of its rows, feeds or audit', async () => {
    // The premise, on the broker: the agent's own record says role=web, the admin's says role=db.
    expect((await bucketValue(AGENTS_BUCKET, 'db-01')).labels).toEqual({ role: 'web', zone: 'eu.west' });
    expect((await bucketValue(ENROLLMENTS_BUCKET, 'db-01')).labels).toEqual({ role: 'db', zone: 'eu.west' });

    const jobs = openFeed('/feed/jobs', webAdmin);
    try {
      await until(() => jobs.status === 200, 'the jobs feed to open');
      const dbJob = await exec('db-01');
      const webJob = await exec('web-01');
      // The feed hears web-01's job (so it is listening), and never db-01's.
      await jobs.waitFor((event) => event.event === 'job' && event.data.job_id === webJob.id && event.data.results.length === 1);
      await sleep(1_000);
      expect(jobs.events.filter((event) => event.data?.job_id === dbJob.id)).toEqual([]);
      expect(mentions(jobs.events, dbJob.secret)).toBe(false);

      expectUnseen(await readsOf(webAdmin, dbJob), dbJob, 'db-01');
      const agents = await api(fleet, 'GET', '/agent', { key: webAdmin });
      expect(agents.body.agents.map((agent: { hostname: string }) => agent.hostname)).toEqual(['web-01', 'web-02']);
      // The same key reads web-01's job whole: the refusals above are the scope's, not a broken read.
      const web = await readsOf(webAdmin, webJob);
      expect(web.get.body.results[0].stdout).toBe(`${webJob.secret}\n`);
      expect(web.audit.body.entries.some((entry: { job_id?: string }) => entry.job_id === webJob.id)).toBe(true);
    } finally {
      await jobs.close();
    }
  });
});

describe('an admin relabels a host', () => {
  attack('web-02 moved out of role:web: a role:web key no longer reads its exec rows, its feed, its audit entries', async () => {
    const web02Job = await exec('web-02');
    const bothJob = await exec('role:web');
    expect((await api(fleet, 'GET', `/job/${web02Job.id}`, { key: webAdmin })).body.results[0].stdout).toBe(`${web02Job.secret}\n`);
    await setLabels('web-02', { role: 'db', zone: 'us.east' });
    const jobs = openFeed('/feed/jobs', webAdmin);
    try {
      expectUnseen(await readsOf(webAdmin, web02Job), web02Job, 'web-02');
      const both = await api(fleet, 'GET', `/job/${bothJob.id}`, { key: webAdmin });
      expect({ hosts: both.body.hosts, rows: both.body.results.map((row: { hostname: string }) => row.hostname) }).toEqual({
        hosts: ['web-01'],
        rows: ['web-01'],
      });
      // A job started on web-02 after the move is not announced on the role:web key's jobs feed.
      await until(() => jobs.status === 200, 'the jobs feed to open');
      const later = await exec('web-02');
      await sleep(1_500);
      expect(jobs.events.filter((event) => event.data?.job_id === later.id)).toEqual([]);
      expect(mentions(jobs.events, later.secret)).toBe(false);
    } finally {
      await jobs.close();
      await setLabels('web-02', WEB_02_LABELS);
    }
  });

  attack('web-02 relabelled while its agent is down: judged by its enrolment, not by its last heartbeat', async () => {
    const job = await exec('web-02');
    await fleet.killAgent('web-02');
    try {
      // Its last record still says role=web.
      expect((await bucketValue(AGENTS_BUCKET, 'web-02')).labels).toEqual(WEB_02_LABELS);
      await setLabels('web-02', { role: 'db', zone: 'us.east' });
      expectUnseen(await readsOf(webAdmin, job), job, 'web-02');
      await setLabels('web-02', WEB_02_LABELS);
      // Back inside by its enrolment, still down: its rows are readable again.
      expect((await api(fleet, 'GET', `/job/${job.id}`, { key: webAdmin })).body.results[0].stdout).toBe(`${job.secret}\n`);
    } finally {
      await setLabels('web-02', WEB_02_LABELS);
      await fleet.startAgent('web-02');
      await until(async () => (await api(fleet, 'GET', '/agent/web-02')).status === 200, 'web-02 to be live again');
    }
  });
});

describe("one answer outside a key's scope", () => {
  /** Status and body, the job id made neutral: what a caller could tell two answers apart by. */
  const answer = (res: { status: number; body: unknown }, id?: string) => ({
    status: res.status,
    body: id ? JSON.stringify(res.body).split(id).join('<id>') : JSON.stringify(res.body),
  });

  attack(
    'role:web key tells existing hosts and labels outside its scope from unknown ones: node calls, proxy, agent, drain, target',
    async () => {
      const key = fleet.mintKey('admin', { scope: 'role:web', subject: 'g17-prober' });
      const pairs: Array<[string, string]> = [
        ['db-01', 'nope-01'],
        ['role:db', 'role:nope'],
        ['zone:eu.west', 'zone:nowhere'],
        ['_all', 'role:web.nope'],
      ];
      const calls = (target: string) => ({
        list: api(fleet, 'GET', `/node/${target}/container/docker`, { key }),
        create: api(fleet, 'POST', `/node/${target}/container/docker`, {
          key,
          body: { image: BUSYBOX_IMAGE, cmd: ['true'], labels: { 'g17.probe': target } },
        }),
        target: api(fleet, 'GET', `/target/${target}`, { key }),
      });
      for (const [existing, unknown] of pairs) {
        const [a, b] = [calls(existing), calls(unknown)];
        for (const name of Object.keys(a) as Array<keyof typeof a>) {
          const [seen, unseen] = [await a[name], await b[name]];
          expect({ existing, name, ...answer(seen) }).toEqual({ existing, name, ...answer(unseen) });
          expect({ existing, name, status: seen.status }).toEqual({ existing, name, status: 404 });
        }
      }
      for (const [existing, unknown] of [['db-01', 'nope-01']]) {
        const hostCalls = (host: string) => ({
          proxy: fetch(`${fleet.url}/node/${host}/docker/v1.41/containers/json`, { headers: { authorization: `Bearer ${key}` } }).then(
            async (res) => ({ status: res.status, body: await res.text() }),
          ),
          agent: api(fleet, 'GET', `/agent/${host}`, { key }),
          drain: api(fleet, 'POST', `/agent/${host}/drain`, { key }),
        });
        const [a, b] = [hostCalls(existing), hostCalls(unknown)];
        for (const name of Object.keys(a) as Array<keyof typeof a>) {
          const [seen, unseen] = [await a[name], await b[name]];
          expect({ name, ...answer(seen) }).toEqual({ name, ...answer(unseen) });
          expect({ name, status: seen.status }).toEqual({ name, status: 404 });
        }
      }
      // A job that ran only outside the scope reads like a job that never was.
      const dbJob = await exec('db-01');
      const nobody = randomUUID();
      expect(answer(await api(fleet, 'GET', `/job/${dbJob.id}`, { key }), dbJob.id)).toEqual(
        answer(await api(fleet, 'GET', `/job/${nobody}`, { key }), nobody),
      );
      // Nothing reached an engine or the drains.
      for (const host of ['db-01', 'web-01', 'web-02'])
        expect({ host, made: await countContainers(fleet.docker(host), 'g17.probe') }).toEqual({ host, made: 0 });
      expect((await api(fleet, 'GET', '/agent/db-01')).body.drained).toBe(false);
    },
  );

  it('the same key still reaches its own hosts, and a hostname inside its scope by name', async () => {
    const key = fleet.mintKey('operator', { scope: 'role:web' });
    expect(
      (await api(fleet, 'GET', '/node/role:web/container/docker', { key })).body.results.map((row: { hostname: string }) => row.hostname),
    ).toEqual(['web-01', 'web-02']);
    expect((await api(fleet, 'GET', '/node/web-02/container/docker', { key })).status).toBe(200);
    expect((await api(fleet, 'GET', '/target/_any', { key })).status).toBe(200);
  });
});

describe('/metrics of a fleet started like `fleet up`', () => {
  attack('anyone scrapes /metrics (every hostname, every operation) without its token', async () => {
    const attempts: Array<Record<string, string>> = [{}, { authorization: `Bearer ${fleet.adminKey}` }, { authorization: 'Bearer ' }];
    for (const headers of attempts) {
      const res = await api(fleet, 'GET', '/metrics', { key: null, headers });
      expect({ headers, status: res.status, hosts: mentions(res.body, 'db-01') }).toEqual({ headers, status: 401, hosts: false });
      expect(res.body).toMatchObject({ code: 401, error: expect.stringContaining('Unauthorized') });
    }
    const scraped = await api(fleet, 'GET', '/metrics', { key: null, headers: { authorization: `Bearer ${fleet.metricsToken}` } });
    expect(scraped.status).toBe(200);
    expect(mentions(scraped.body, 'fleet_agents')).toBe(true);
  });
});
