/**
 * Issue 10, finding 3: job reads ignored scope and permission. An admin runs an exec on db-01
 * (and on every host); keys that could not have run it read it back through GET /job/:id,
 * ?wait= and GET /job. None may see a byte of the output, and a scoped key sees only the rows of
 * hosts inside its scope. The secret is asserted on the engine first: it is really there.
 */
import { randomUUID } from 'node:crypto';
import { attack } from '../support/attacks';
import { api, forbiddenBody } from '../support/http';
import { useTestFleet } from '../support/suite';

const fleet = useTestFleet();
const IMAGE = 'local/busybox:latest';
const CONTAINER = 'g2-secret-holder';
/** Printed by the exec only: the string can reach a response through the job's rows alone. */
const SECRET = `TOPSECRET-${randomUUID()}`;
let dbExecJob: string;
let allExecJob: string;
let webListJob: string;

beforeAll(async () => {
  const created = await api(fleet, 'POST', '/node/_all/container/docker', {
    body: { image: IMAGE, name: CONTAINER, cmd: ['sleep', '3600'], auto_start: true },
  });
  expect(created.status).toBe(202);
  const exec = await api(fleet, 'POST', `/node/db-01/container/docker/${CONTAINER}/exec`, {
    body: { cmd: ['sh', '-c', `echo ${SECRET}`] },
  });
  expect(exec.status).toBe(202);
  expect(exec.body.results[0].stdout).toBe(`${SECRET}\n`);
  dbExecJob = exec.body.job_id;
  const execAll = await api(fleet, 'POST', `/node/_all/container/docker/${CONTAINER}/exec`, {
    body: { cmd: ['sh', '-c', `echo ${SECRET}`] },
  });
  expect(execAll.body.results.map((row: { stdout: string }) => row.stdout)).toEqual([`${SECRET}\n`, `${SECRET}\n`, `${SECRET}\n`]);
  allExecJob = execAll.body.job_id;
  const list = await api(fleet, 'GET', '/node/role:web/container/docker');
  expect(list.status).toBe(200);
  webListJob = list.body.job_id;
});

/** Every way a key can read jobs back: the job, the job with a long-poll, the list and the filtered list. */
async function readsOf(key: string, jobId: string) {
  return {
    get: await api(fleet, 'GET', `/job/${jobId}`, { key }),
    wait: await api(fleet, 'GET', `/job/${jobId}?wait=2`, { key }),
    list: await api(fleet, 'GET', '/job?limit=200', { key }),
    listExec: await api(fleet, 'GET', '/job?operation=docker.container.exec&limit=200', { key }),
  };
}

const mentions = (body: unknown, text: string) => JSON.stringify(body).includes(text);

describe('a viewer key (no docker:exec)', () => {
  attack('viewer reads the exec output of db-01 through GET /job/:id, ?wait= and GET /job', async () => {
    const reads = await readsOf(fleet.mintKey('viewer', { subject: 'g2-viewer' }), dbExecJob);
    expect(reads.get.status).toBe(403);
    expect(reads.get.body).toEqual(forbiddenBody('docker:exec'));
    expect(reads.wait.status).toBe(403);
    expect(reads.list.status).toBe(200);
    expect(reads.listExec.body.jobs).toEqual([]);
    for (const [name, res] of Object.entries(reads)) expect({ name, leaked: mentions(res.body, SECRET) }).toEqual({ name, leaked: false });
  });
});

describe('a key scoped to role:web', () => {
  attack('viewer scoped to role:web reads the exec output of db-01', async () => {
    const reads = await readsOf(fleet.mintKey('viewer', { scope: 'role:web' }), dbExecJob);
    for (const [name, res] of Object.entries(reads)) {
      expect({ name, leaked: mentions(res.body, SECRET), db: mentions(res.body, 'db-01') }).toEqual({ name, leaked: false, db: false });
    }
  });

  attack('operator scoped to role:web (it has docker:exec) reads a job that ran only on db-01: 404', async () => {
    const reads = await readsOf(fleet.mintKey('operator', { scope: 'role:web' }), dbExecJob);
    expect(reads.get.status).toBe(404);
    expect(reads.get.body).toEqual({ error: 'job not found', details: expect.any(String), code: 404, reason: 'not_found' });
    expect(reads.wait.status).toBe(404);
    expect(reads.listExec.body.jobs.map((job: { job_id: string }) => job.job_id)).not.toContain(dbExecJob);
    for (const [name, res] of Object.entries(reads)) expect({ name, db: mentions(res.body, 'db-01') }).toEqual({ name, db: false });
  });

  attack('operator scoped to role:web reads an _all exec job: only the web rows, db-01 named nowhere', async () => {
    const reads = await readsOf(fleet.mintKey('operator', { scope: 'role:web' }), allExecJob);
    expect(reads.get.status).toBe(200);
    expect(reads.get.body.hosts).toEqual(['web-01', 'web-02']);
    expect(reads.get.body.results.map((row: { hostname: string }) => row.hostname)).toEqual(['web-01', 'web-02']);
    expect(reads.wait.body.hosts).toEqual(['web-01', 'web-02']);
    const listed = reads.listExec.body.jobs.find((job: { job_id: string }) => job.job_id === allExecJob);
    expect(listed.results.map((row: { hostname: string }) => row.hostname)).toEqual(['web-01', 'web-02']);
    for (const [name, res] of Object.entries(reads)) expect({ name, db: mentions(res.body, 'db-01') }).toEqual({ name, db: false });
  });
});

describe('legitimate reads', () => {
  it('an admin reads every job whole', async () => {
    const job = await api(fleet, 'GET', `/job/${dbExecJob}`);
    expect(job.body.results).toEqual([expect.objectContaining({ hostname: 'db-01', stdout: `${SECRET}\n` })]);
    const all = await api(fleet, 'GET', `/job/${allExecJob}?wait=1`);
    expect(all.body.hosts).toEqual(['db-01', 'web-01', 'web-02']);
  });

  it('an unscoped operator reads exec jobs; a viewer reads docker:read jobs; a role:web viewer reads its web jobs', async () => {
    const operator = await api(fleet, 'GET', `/job/${dbExecJob}`, { key: fleet.mintKey('operator') });
    expect(operator.body.results[0].stdout).toBe(`${SECRET}\n`);
    const viewer = await api(fleet, 'GET', `/job/${webListJob}`, { key: fleet.mintKey('viewer') });
    expect(viewer.status).toBe(200);
    expect(viewer.body.results).toHaveLength(2);
    const scopedList = await api(fleet, 'GET', '/job?operation=docker.container.list', {
      key: fleet.mintKey('viewer', { scope: 'role:web' }),
    });
    expect(scopedList.body.jobs.map((job: { job_id: string }) => job.job_id)).toContain(webListJob);
  });
});
