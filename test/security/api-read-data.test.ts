/**
 * Issue 17, item 6: secrets are not "read". A viewer (docker:read) got every container's
 * environment (inspect), its files (archive), its whole filesystem (export) and whole images (save),
 * on the node API and through the docker CLI. Now those need docker:read-data (operator, admin);
 * inspect stays a read, with each variable's value redacted, also when the viewer reads back an
 * operator's inspect job. The secret is asserted on the engine first: it is really there.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { BUSYBOX_IMAGE } from '@fleet/deploy';
import { attack } from '../support/attacks';
import { api, forbiddenBody } from '../support/http';
import { type ProcessResult, runProcess } from '../support/proc';
import { EventStreamClient } from '../support/sse';
import { useTestFleet } from '../support/suite';

jest.setTimeout(300_000);
const fleet = useTestFleet();
const HOST = 'web-01';
const CONTAINER = 'g17-data-holder';
/** Only in the container's environment and in a file inside it: a response can hold it only by reading those. */
const SECRET = `S3CRET-${randomUUID()}`;
const SECRET_FILE = '/secret.txt';
let scratch: string;
let viewer: string;
let operator: string;

beforeAll(async () => {
  scratch = mkdtempSync('/tmp/flt-data-');
  viewer = fleet.mintKey('viewer', { subject: 'g17-viewer' });
  operator = fleet.mintKey('operator', { subject: 'g17-operator' });
  const created = await api(fleet, 'POST', `/node/${HOST}/container/docker`, {
    body: {
      image: BUSYBOX_IMAGE,
      name: CONTAINER,
      cmd: ['sh', '-c', `echo "$API_TOKEN" > ${SECRET_FILE}; sleep 3600`],
      env: { API_TOKEN: SECRET, MODE: 'prod' },
      auto_start: true,
    },
  });
  expect(created.status).toBe(202);
  const onEngine = await fleet.docker(HOST).getContainer(CONTAINER).inspect();
  expect(onEngine.Config.Env).toContain(`API_TOKEN=${SECRET}`);
});

afterAll(async () => {
  await fleet.removeContainers([HOST], [CONTAINER]);
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

const mentions = (body: unknown, text: string) => (typeof body === 'string' ? body : JSON.stringify(body)).includes(text);

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 50));
  if (!check()) throw new Error(`timed out waiting for ${what}`);
}

/** Jobs of `operation` started by `subject`, as the admin sees them. */
async function jobsBy(subject: string, operation: string): Promise<unknown[]> {
  return (await api(fleet, 'GET', `/job?operation=${operation}&caller=${subject}&limit=50`)).body.jobs;
}

describe('the node API', () => {
  attack('viewer copies a file out, exports the filesystem and saves an image through the node API', async () => {
    const calls: Array<[string, string, string]> = [
      ['GET', `/node/${HOST}/container/docker/${CONTAINER}/archive?path=${SECRET_FILE}`, 'docker.container.archive-get'],
      ['HEAD', `/node/${HOST}/container/docker/${CONTAINER}/archive?path=${SECRET_FILE}`, 'docker.container.archive-get'],
      ['GET', `/node/${HOST}/container/docker/${CONTAINER}/export`, 'docker.container.export'],
      ['GET', `/node/${HOST}/container/docker/image/save?names=${encodeURIComponent(BUSYBOX_IMAGE)}`, 'docker.image.save'],
    ];
    for (const [method, path, operation] of calls) {
      const res = await api(fleet, method, path, { key: viewer });
      expect({ method, path, status: res.status }).toEqual({ method, path, status: 403 });
      if (method === 'GET') expect(res.body).toEqual(forbiddenBody('docker:read-data'));
      expect(mentions(res.body, SECRET)).toBe(false);
      // Refused before any job: nothing reached the engine.
      expect(await jobsBy('g17-viewer', operation)).toEqual([]);
    }
  });

  it('an operator still copies the file out and exports the filesystem', async () => {
    const archive = await fetch(`${fleet.url}/node/${HOST}/container/docker/${CONTAINER}/archive?path=${SECRET_FILE}`, {
      headers: { authorization: `Bearer ${operator}` },
    });
    expect(archive.status).toBe(200);
    expect(Buffer.from(await archive.arrayBuffer()).toString('latin1')).toContain(SECRET);
    const exported = await fetch(`${fleet.url}/node/${HOST}/container/docker/${CONTAINER}/export`, {
      headers: { authorization: `Bearer ${operator}` },
    });
    expect(exported.status).toBe(200);
    expect((await exported.arrayBuffer()).byteLength).toBeGreaterThan(0);
    // The same look-up the viewer's attack relies on finds the operator's jobs.
    expect(await jobsBy('g17-operator', 'docker.container.archive-get')).toHaveLength(1);
    expect(await jobsBy('g17-operator', 'docker.container.export')).toHaveLength(1);
  });

  attack("viewer inspects a container: every variable's name, no value", async () => {
    const res = await api(fleet, 'GET', `/node/${HOST}/container/docker/${CONTAINER}`, { key: viewer });
    expect(res.status).toBe(200);
    const env: string[] = res.body.results[0].container.Config.Env;
    expect(env).toEqual(expect.arrayContaining(['API_TOKEN=<redacted>', 'MODE=<redacted>']));
    expect(env.every((entry) => entry.endsWith('=<redacted>'))).toBe(true);
    expect(res.body.results[0].container.Id).toBe((await fleet.docker(HOST).getContainer(CONTAINER).inspect()).Id);
    expect(mentions(res.body, SECRET)).toBe(false);

    const asOperator = await api(fleet, 'GET', `/node/${HOST}/container/docker/${CONTAINER}`, { key: operator });
    expect(asOperator.body.results[0].container.Config.Env).toContain(`API_TOKEN=${SECRET}`);
  });

  attack("viewer reads back an operator's inspect job: GET /job/:id, ?wait=, GET /job, the job feeds", async () => {
    const jobs = new EventStreamClient(`${fleet.url}/feed/jobs`, { authorization: `Bearer ${viewer}` });
    try {
      await until(() => jobs.status === 200, 'the jobs feed to open');
      const inspect = await api(fleet, 'GET', `/node/${HOST}/container/docker/${CONTAINER}`, { key: operator });
      expect(inspect.body.results[0].container.Config.Env).toContain(`API_TOKEN=${SECRET}`);
      const jobId: string = inspect.body.job_id;
      // The record at rest is the operator's: what the viewer reads is cut on the way out.
      expect(mentions((await api(fleet, 'GET', `/job/${jobId}`)).body, SECRET)).toBe(true);

      const settled = await jobs.waitFor((event) => event.event === 'job' && event.data.job_id === jobId && event.data.results.length > 0);
      const reads = {
        get: await api(fleet, 'GET', `/job/${jobId}`, { key: viewer }),
        wait: await api(fleet, 'GET', `/job/${jobId}?wait=2`, { key: viewer }),
        list: await api(fleet, 'GET', '/job?operation=docker.container.inspect&limit=50', { key: viewer }),
        feedJobs: { status: 200, body: settled.data },
      };
      const feed = new EventStreamClient(`${fleet.url}/feed/job/${jobId}`, { authorization: `Bearer ${viewer}` });
      const feedJob = await feed.waitFor((event) => event.event === 'end');
      await feed.close();
      const all = { ...reads, feedJob: { status: feed.status, body: feed.events } };
      for (const [name, res] of Object.entries(all))
        expect({ name, status: res.status, leaked: mentions(res.body, SECRET) }).toEqual({ name, status: 200, leaked: false });
      expect(reads.get.body.results[0].container.Config.Env).toContain('API_TOKEN=<redacted>');
      expect(feedJob.data.job.results[0].container.Config.Env).toContain('API_TOKEN=<redacted>');
      expect(reads.list.body.jobs.find((job: { job_id: string }) => job.job_id === jobId).results[0].container.Config.Env).toContain(
        'API_TOKEN=<redacted>',
      );
    } finally {
      await jobs.close();
    }
  });
});

type CliResult = ProcessResult;

let configs = 0;

/** Runs the real `docker` binary against HOST through the gateway's Engine API proxy, with `key` in its HttpHeaders. */
function docker(key: string, args: string[], cwd: string = scratch): Promise<CliResult> {
  const config = join(scratch, `config-${++configs}`);
  mkdirSync(config, { recursive: true });
  writeFileSync(join(config, 'config.json'), JSON.stringify({ HttpHeaders: { Authorization: `Bearer ${key}` } }));
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: scratch,
    DOCKER_HOST: `tcp://${new URL(fleet.url).host}/node/${HOST}/docker`,
    DOCKER_CONFIG: config,
  };
  return runProcess('docker', args, { env, cwd, timeoutMs: 120_000, onTimeout: 'kill', stdoutEncoding: 'latin1' });
}

/** One raw request to the proxy, for a method the docker CLI sends on its own (HEAD). */
function proxyStatus(method: string, path: string, key: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const url = new URL(`${fleet.url}/node/${HOST}/docker${path}`);
    const req = request(url, { method, headers: { authorization: `Bearer ${key}` } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the docker CLI through the gateway', () => {
  attack('viewer runs docker cp, docker export and docker save: each refused naming docker:read-data, no file written', async () => {
    const out = join(scratch, 'viewer');
    mkdirSync(out);
    const runs = {
      cp: await docker(viewer, ['cp', `${CONTAINER}:${SECRET_FILE}`, join(out, 'secret.txt')]),
      export: await docker(viewer, ['export', '-o', join(out, 'fs.tar'), CONTAINER]),
      save: await docker(viewer, ['save', '-o', join(out, 'image.tar'), BUSYBOX_IMAGE]),
    };
    for (const [name, run] of Object.entries(runs)) {
      expect({
        name,
        failed: run.code !== 0,
        names: run.stderr.includes("'docker:read-data'"),
        leaked: mentions(run.stdout + run.stderr, SECRET),
      }).toEqual({ name, failed: true, names: true, leaked: false });
    }
    for (const file of ['secret.txt', 'fs.tar', 'image.tar'])
      expect(existsSync(join(out, file)) ? statSync(join(out, file)).size : 0).toBe(0);
    expect(await proxyStatus('HEAD', `/v1.41/containers/${CONTAINER}/archive?path=${SECRET_FILE}`, viewer)).toBe(403);
    expect(await proxyStatus('GET', `/v1.41/images/${BUSYBOX_IMAGE}/get`, viewer)).toBe(403);
  });

  it('an operator runs docker cp, docker export and docker save', async () => {
    const out = join(scratch, 'operator');
    mkdirSync(out);
    expect((await docker(operator, ['cp', `${CONTAINER}:${SECRET_FILE}`, join(out, 'secret.txt')])).code).toBe(0);
    expect(readFileSync(join(out, 'secret.txt'), 'utf8')).toBe(`${SECRET}\n`);
    expect((await docker(operator, ['export', '-o', join(out, 'fs.tar'), CONTAINER])).code).toBe(0);
    expect(statSync(join(out, 'fs.tar')).size).toBeGreaterThan(1024);
    expect((await docker(operator, ['save', '-o', join(out, 'image.tar'), BUSYBOX_IMAGE])).code).toBe(0);
    expect(statSync(join(out, 'image.tar')).size).toBeGreaterThan(1024);
  });

  attack("viewer runs docker inspect: it works, with every variable's value redacted", async () => {
    const run = await docker(viewer, ['inspect', CONTAINER]);
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
    const [inspect] = JSON.parse(run.stdout) as Array<{ Id: string; Config: { Env: string[] } }>;
    expect(inspect.Id).toBe((await fleet.docker(HOST).getContainer(CONTAINER).inspect()).Id);
    expect(inspect.Config.Env).toEqual(expect.arrayContaining(['API_TOKEN=<redacted>', 'MODE=<redacted>']));
    expect(mentions(run.stdout, SECRET)).toBe(false);
    const format = await docker(viewer, ['inspect', '--format', '{{json .Config.Env}}', CONTAINER]);
    expect(mentions(format.stdout, SECRET)).toBe(false);

    const asOperator = await docker(operator, ['inspect', '--format', '{{json .Config.Env}}', CONTAINER]);
    expect(asOperator.code).toBe(0);
    expect(JSON.parse(asOperator.stdout)).toContain(`API_TOKEN=${SECRET}`);
  });
});
