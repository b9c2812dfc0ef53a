/**
 * Stacks end to end (issue 22, README "Stacks") on three real engines: a compose file deployed to `role:web` runs on
 * web-01 and web-02 only (checked with the real docker binary on each engine), a redeploy in waves of one host updates
 * them one at a time, a failing health gate stops it with the other host left on the old revision, a rollback puts
 * every host back and a delete removes everything. Kept true: drift reported and repaired, a relabelled host gets and
 * loses the stack, a host whose agent was stopped during a deploy catches up. A second apply of the same revision makes
 * no mutating Engine API call (counted by a recorder between web-01's agent and its dockerd). Refusals leave every
 * engine untouched.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { freePort, type Registry, startRegistry, stopRegistry } from '@fleet/deploy';
import { parseCompose } from '@fleet/contracts/compose';
import { isErrorReason } from '@fleet/contracts/error-reasons';
import { type EngineCallRecorder, recordAgentEngineCalls } from '../support/engine-call-recorder';
import { eventually } from '../support/eventually';
import { fleetCliFromSource } from '../support/fleet-cli';
import { api, type ApiResponse } from '../support/http';
import { runProcess } from '../support/proc';
import { useScratchDir, useTestFleet } from '../support/suite';

const fleet = useTestFleet();
const scratch = useScratchDir('/tmp/flt-stk-');
const HOSTS = ['db-01', 'web-01', 'web-02'];
const WEB = ['web-01', 'web-02'];
const BUSYBOX = 'local/busybox:latest';
const STACK = 'shop';
const PROJECT_LABEL = 'com.docker.compose.project';
/** Convergence goes through heartbeats and the agents' drift checks: generous on a shared 2-core machine. */
const CONVERGE_MS = 120_000;

let registry: Registry;
let recorder: EngineCallRecorder;

/** `<registry>/stack-<service>:<tag>`: each tag a distinct image (its own label), pulled by the agents from the loopback registry. */
function image(service: 'web' | 'worker', tag: string): string {
  return `${registry.address}/stack-${service}:${tag}`;
}

interface ComposeOptions {
  webTag: string;
  /** The web service's healthcheck command: `true` passes, `false` never does. */
  webCheck?: 'true' | 'false';
  /** Extra lines under services.web (already indented), for the refusals. */
  webExtra?: string[];
}

/** A two-service compose file as an operator writes it: worker depends on web, both with a healthcheck. */
function compose({ webTag, webCheck = 'true', webExtra = [] }: ComposeOptions): string {
  return [
    'services:',
    '  web:',
    `    image: ${image('web', webTag)}`,
    '    command: ["sleep", "3600"]',
    '    labels:',
    '      fleet.test: stacks',
    '    healthcheck:',
    `      test: ["CMD", "${webCheck}"]`,
    '      interval: 1s',
    '      timeout: 1s',
    '      retries: 1',
    ...webExtra,
    '  worker:',
    `    image: ${image('worker', '1')}`,
    '    command: ["sleep", "3600"]',
    '    depends_on: [web]',
    '    healthcheck:',
    '      test: ["CMD", "true"]',
    '      interval: 1s',
    '      timeout: 1s',
    '      retries: 1',
    '',
  ].join('\n');
}

interface StackContainer {
  id: string;
  service: string;
  image: string;
  state: string;
}

/** The stack's containers on one engine, as the real docker binary lists them (`docker ps -a --filter label=…`). */
async function onEngine(host: string, stack = STACK): Promise<StackContainer[]> {
  const format = '{{.ID}}\t{{.Label "com.docker.compose.service"}}\t{{.Image}}\t{{.State}}';
  const args = ['--host', `unix://${fleet.socketOf(host)}`, 'ps', '-a', '--no-trunc'];
  const res = await runProcess('docker', [...args, '--filter', `label=${PROJECT_LABEL}=${stack}`, '--format', format], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: scratch() },
    timeoutMs: 30_000,
    onTimeout: 'reject',
  });
  if (res.code !== 0) throw new Error(`docker ps on ${host} failed: ${res.stderr}`);
  return res.stdout
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const [id, service, image, state] = line.split('\t');
      return { id, service, image, state };
    })
    .sort((a, b) => a.service.localeCompare(b.service));
}

/** service → image of the stack's running containers on one engine. */
async function runningImages(host: string, stack = STACK): Promise<Record<string, string>> {
  const containers = await onEngine(host, stack);
  return Object.fromEntries(containers.filter((each) => each.state === 'running').map((each) => [each.service, each.image]));
}

/** service → container id on one engine. */
async function containerIds(host: string): Promise<Record<string, string>> {
  return Object.fromEntries((await onEngine(host)).map((each) => [each.service, each.id]));
}

/** Whatever the stack made on one engine: containers, networks and volumes carrying its compose project label. */
async function anythingOf(engine: Docker, stack: string): Promise<string[]> {
  const filters = JSON.stringify({ label: [`${PROJECT_LABEL}=${stack}`] });
  const containers = await engine.listContainers({ all: true, filters });
  const networks = await engine.listNetworks({ filters });
  const volumes = (await engine.listVolumes({ filters })).Volumes ?? [];
  return [
    ...containers.map((c) => `container ${c.Id}`),
    ...networks.map((n) => `network ${n.Name}`),
    ...volumes.map((v) => `volume ${v.Name}`),
  ];
}

interface StackHost {
  hostname: string;
  state: string;
  revision?: number;
  drift?: Array<{ service: string; what: string }>;
  error?: string;
}

async function stackHosts(): Promise<Record<string, StackHost>> {
  const res = await api(fleet, 'GET', `/stack/${STACK}`);
  expect(res.status).toBe(200);
  return Object.fromEntries((res.body.hosts as StackHost[]).map((host) => [host.hostname, host]));
}

function deploy(body: Record<string, unknown>, key?: string, name = STACK): Promise<ApiResponse> {
  return api(fleet, 'PUT', `/stack/${name}`, { key, body: { target: 'role:web', ...body } });
}

interface SettledJob {
  job_id: string;
  status: string;
  rollout?: { state: string; waves: Array<{ hosts: string[]; state: string }> };
  results: Array<{ hostname: string; status: string; changes?: Array<{ service: string; action: string }> }>;
}

/** The job once it and its rollout, if any, ended. */
async function settled(jobId: string): Promise<SettledJob> {
  for (let attempt = 0; attempt < 60; attempt++) {
    const job = (await api(fleet, 'GET', `/job/${jobId}?wait=30`)).body as SettledJob;
    if (!['pending', 'running'].includes(job.status) && job.rollout?.state !== 'running') return job;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`job ${jobId} did not end`);
}

/** Web on tag 2, worker on tag 1: the state the tests after the CLI deploy start from, put there again by each (no-ops once there). */
const GOOD = () => compose({ webTag: '2' });
const GOOD_IMAGES = () => ({ web: image('web', '2'), worker: image('worker', '1') });
/** A test that waits for the fleet to converge (heartbeats, drift checks, the keep-true controller). */
const CONVERGE_TEST_MS = 400_000;

/** Deploys and waits for its job: the new revision and the ended job. */
async function deployed(body: Record<string, unknown>): Promise<{ revision: number; job: SettledJob }> {
  const res = await deploy(body);
  expect({ accepted: res.status < 300, body: res.body }).toMatchObject({
    accepted: true,
    body: { name: STACK, revision: expect.any(Number), job_id: expect.any(String) },
  });
  return { revision: res.body.revision as number, job: await settled(res.body.job_id as string) };
}

async function createdAt(host: string, id: string): Promise<{ created: number; started: number }> {
  const inspected = await fleet.docker(host).getContainer(id).inspect();
  return { created: Date.parse(inspected.Created), started: Date.parse(inspected.State.StartedAt) };
}

/** Commits busybox with a label of its own as `reference` and pushes it to the suite's registry from web-01's engine. */
async function pushImage(reference: string): Promise<void> {
  const engine = fleet.docker('web-01');
  const [repo, tag] = [reference.slice(0, reference.lastIndexOf(':')), reference.slice(reference.lastIndexOf(':') + 1)];
  const container = await engine.createContainer({ Image: BUSYBOX, Cmd: ['true'] });
  await container.commit({ repo, tag, changes: `LABEL fleet.test.image=${reference}` });
  await container.remove();
  const stream = (await engine.getImage(reference).push({ authconfig: { serveraddress: registry.address } })) as NodeJS.ReadableStream;
  let progress = '';
  for await (const chunk of stream) progress += chunk.toString();
  if (progress.includes('"error"')) throw new Error(`pushing ${reference} failed: ${progress}`);
  // Pulled by every agent, web-01's too.
  await engine.getImage(reference).remove();
}

beforeAll(async () => {
  registry = await startRegistry({ dir: join(scratch(), 'registry'), port: await freePort() });
  for (const reference of [image('web', '1'), image('web', '2'), image('web', '3'), image('worker', '1')]) await pushImage(reference);
  recorder = await recordAgentEngineCalls(fleet, 'web-01');
}, 240_000);

afterAll(async () => {
  if (recorder) {
    await fleet.stopAgent('web-01').catch(() => undefined);
    await recorder.stop();
  }
  if (registry) await stopRegistry(registry);
});

describe('a stack on role:web, its revisions rolled out, back and removed', () => {
  let rev1: number;

  it('deploys a two-service stack: both services run on web-01 and web-02, nothing on db-01', async () => {
    const first = await deployed({ compose: compose({ webTag: '1' }) });
    rev1 = first.revision;
    expect(first.job.status).toBe('ok');

    for (const host of WEB)
      expect({ host, images: await runningImages(host) }).toEqual({
        host,
        images: { web: image('web', '1'), worker: image('worker', '1') },
      });
    expect(await onEngine('db-01')).toEqual([]);
    // Each host's state comes from its heartbeat: in sync once it reported the revision applied.
    await eventually(stackHosts, (hosts) => {
      expect(Object.keys(hosts).sort()).toEqual(WEB);
      for (const host of WEB) expect(hosts[host]).toMatchObject({ state: 'in_sync', revision: rev1 });
    });
  });

  it('each web host lists the stack it runs (stack.host.list); db-01 lists none', async () => {
    const res = await api(fleet, 'GET', '/node/_all/stack');
    expect(res.status).toBe(200);
    const listed = Object.fromEntries(
      res.body.results.map((row: { hostname: string; stacks: Array<{ name: string }> }) => [row.hostname, row.stacks]),
    );
    for (const host of WEB) expect(listed[host]).toEqual([expect.objectContaining({ name: STACK, revision: rev1, state: 'in_sync' })]);
    expect(listed['db-01']).toEqual([]);
  });

  it('a host diff (stack.host.diff) names what a new web tag would change, and changes nothing (no mutating call on web-01)', async () => {
    const before = await Promise.all(WEB.map(containerIds));
    const parsed = parseCompose(compose({ webTag: '2' }));
    if (!parsed.ok) throw new Error(parsed.message);
    const mark = recorder.calls.length;
    const res = await api(fleet, 'POST', `/node/role:web/stack/${STACK}/diff`, {
      body: { revision: rev1 + 1, spec: parsed.spec, on_drift: 'report' },
    });

    expect(res.status).toBe(200);
    for (const row of res.body.results) {
      const actions = Object.fromEntries(row.changes.map((change: { service: string; action: string }) => [change.service, change.action]));
      expect({ host: row.hostname, status: row.status, actions }).toEqual({
        host: row.hostname,
        status: 'ok',
        actions: { web: 'recreate', worker: 'none' },
      });
    }
    expect(recorder.mutatingSince(mark)).toEqual([]);
    expect(await Promise.all(WEB.map(containerIds))).toEqual(before);
  });

  it('a second PUT of the same compose makes no mutating Engine API call on web-01 (counted), every change `none`', async () => {
    const before = await containerIds('web-01');
    const mark = recorder.calls.length;
    const again = await deployed({ compose: compose({ webTag: '1' }) });

    expect(again.job.status).toBe('ok');
    const row = again.job.results.find((each) => each.hostname === 'web-01');
    expect(row?.changes?.map((change) => [change.service, change.action]).sort()).toEqual([
      ['web', 'none'],
      ['worker', 'none'],
    ]);
    // The apply did reach web-01's engine (it read it), and changed nothing there.
    expect(recorder.since(mark).length).toBeGreaterThan(0);
    expect(recorder.mutatingSince(mark)).toEqual([]);
    expect(await containerIds('web-01')).toEqual(before);
  });

  it('the same revision applied again on web-01 (stack.host.apply) makes no mutating Engine API call', async () => {
    const current = await api(fleet, 'GET', `/stack/${STACK}`);
    const revision = current.body.revision as number;
    const text = await api(fleet, 'GET', `/stack/${STACK}/revisions/${revision}`);
    expect(text.status).toBe(200);
    const parsed = parseCompose(typeof text.body === 'string' ? text.body : (text.body.compose as string));
    if (!parsed.ok) throw new Error(`the stored compose of revision ${revision} does not parse: ${parsed.message}`);
    const mark = recorder.calls.length;
    const res = await api(fleet, 'POST', `/node/web-01/stack/${STACK}/apply`, {
      body: { revision, spec: parsed.spec, on_drift: 'report' },
    });

    expect(res.status).toBe(202);
    expect(res.body.results[0]).toMatchObject({ hostname: 'web-01', status: 'ok', changed: false, revision });
    expect(recorder.since(mark).length).toBeGreaterThan(0);
    expect(recorder.mutatingSince(mark)).toEqual([]);
  });

  it('`fleet stack deploy --batch 1 --health healthy` with a new web tag updates one host at a time; worker is left alone', async () => {
    const workers = await Promise.all(WEB.map(async (host) => (await containerIds(host)).worker));
    const file = join(scratch(), 'compose-2.yaml');
    writeFileSync(file, compose({ webTag: '2' }));
    const cli = await fleetCliFromSource(
      ['stack', 'deploy', '-f', file, '--name', STACK, '--target', 'role:web', '--batch', '1', '--health', 'healthy'],
      { FLEET_URL: fleet.url, FLEET_API_KEY: fleet.adminKey },
    );
    expect({ code: cli.code, stderr: cli.stderr }).toMatchObject({ code: 0 });

    const stack = (await api(fleet, 'GET', `/stack/${STACK}`)).body;
    expect(stack.revision).toBeGreaterThan(rev1);
    const job = await settled(stack.revisions.find((each: { revision: number }) => each.revision === stack.revision).job_id);
    expect(job.rollout?.state).toBe('completed');
    expect(job.rollout?.waves.map((wave) => [wave.hosts, wave.state])).toEqual([
      [['web-01'], 'passed'],
      [['web-02'], 'passed'],
    ]);
    for (const host of WEB) expect({ host, images: await runningImages(host) }).toEqual({ host, images: GOOD_IMAGES() });
    expect(await Promise.all(WEB.map(async (host) => (await containerIds(host)).worker))).toEqual(workers);
    // web-02's new container was created only once web-01's was running: one host at a time.
    const web1 = await createdAt('web-01', (await containerIds('web-01')).web);
    const web2 = await createdAt('web-02', (await containerIds('web-02')).web);
    expect(web2.created).toBeGreaterThanOrEqual(web1.started);
  });

  let good: number;

  it('a revision whose healthcheck fails stops at web-01; web-02 keeps the old revision, its containers untouched', async () => {
    good = (await deployed({ compose: GOOD() })).revision;
    const web2Before = await containerIds('web-02');
    const failing = await deployed({ compose: compose({ webTag: '3', webCheck: 'false' }), rollout: { batch: '1', health: 'healthy' } });

    expect(failing.job.rollout?.state).toBe('stopped');
    expect(failing.job.rollout?.waves.map((wave) => [wave.hosts, wave.state])).toEqual([
      [['web-01'], 'failed'],
      [['web-02'], 'skipped'],
    ]);
    expect(await containerIds('web-02')).toEqual(web2Before);
    expect(await runningImages('web-02')).toEqual(GOOD_IMAGES());
    const hosts = await stackHosts();
    expect(hosts['web-01']).toMatchObject({ state: 'failed', error: expect.any(String) });
    expect(hosts['web-02']).toMatchObject({ revision: good });
  });

  it('a rollback to the good revision puts every host back on it, as a new revision with the same digest', async () => {
    const res = await api(fleet, 'POST', `/stack/${STACK}/rollback?to=${good}`);
    expect(res.status).toBeLessThan(300);
    const job = await settled(res.body.job_id as string);
    expect(job.rollout?.state ?? job.status).not.toBe('stopped');

    for (const host of WEB) expect({ host, images: await runningImages(host) }).toEqual({ host, images: GOOD_IMAGES() });
    const stack = (await api(fleet, 'GET', `/stack/${STACK}`)).body;
    expect(stack.revision).toBe(res.body.revision);
    const revisionOf = (revision: number) => stack.revisions.find((each: { revision: number }) => each.revision === revision);
    expect(revisionOf(res.body.revision)).toMatchObject({ rolled_back_from: good, digest: revisionOf(good).digest });
    await eventually(stackHosts, (hosts) => {
      for (const host of WEB) expect(hosts[host]).toMatchObject({ state: 'in_sync', revision: res.body.revision });
    });
  });
});

describe('kept true', () => {
  it(
    'a container removed by hand on web-02 is reported as drift; with on_drift repair the agent recreates it itself',
    async () => {
      await deployed({ compose: GOOD(), on_drift: 'report' });
      const removed = (await containerIds('web-02')).web;
      await fleet.docker('web-02').getContainer(removed).remove({ force: true });
      await eventually(
        stackHosts,
        (hosts) => {
          expect(hosts['web-02'].state).toBe('drifted');
          expect(hosts['web-02'].drift).toEqual(expect.arrayContaining([expect.objectContaining({ service: 'web' })]));
          expect(hosts['web-01'].state).toBe('in_sync');
        },
        CONVERGE_MS,
      );
      // Reported only: nothing put it back.
      expect((await runningImages('web-02')).web).toBeUndefined();

      const repair = await deployed({ compose: GOOD(), on_drift: 'repair' });
      expect(repair.job.status).toBe('ok');
      const again = (await containerIds('web-02')).web;
      expect(again).toBeDefined();
      await fleet.docker('web-02').getContainer(again).remove({ force: true });
      await eventually(
        () => onEngine('web-02'),
        (containers) => {
          const web = containers.find((each) => each.service === 'web');
          expect(web).toMatchObject({ image: image('web', '2'), state: 'running' });
          expect(web?.id).not.toBe(again);
        },
        CONVERGE_MS,
      );
      await eventually(
        stackHosts,
        (hosts) => expect(hosts['web-02']).toMatchObject({ state: 'in_sync', revision: repair.revision }),
        CONVERGE_MS,
      );
    },
    CONVERGE_TEST_MS,
  );

  it(
    'db-01 relabelled role:web gets the stack, and loses it when relabelled back',
    async () => {
      const relabel = (role: string) => api(fleet, 'PUT', '/agent/db-01/labels', { body: { labels: { role, zone: 'eu.west' } } });
      await deployed({ compose: GOOD(), on_drift: 'repair' });
      expect((await relabel('web')).status).toBe(200);
      try {
        await eventually(
          () => runningImages('db-01'),
          (images) => expect(images).toEqual(GOOD_IMAGES()),
          CONVERGE_MS,
        );
        await eventually(stackHosts, (hosts) => expect(hosts['db-01']).toMatchObject({ state: 'in_sync' }), CONVERGE_MS);
      } finally {
        expect((await relabel('db')).status).toBe(200);
      }
      await eventually(
        () => anythingOf(fleet.docker('db-01'), STACK),
        (left) => expect(left).toEqual([]),
        CONVERGE_MS,
      );
      await eventually(stackHosts, (hosts) => expect(hosts['db-01']).toBeUndefined(), CONVERGE_MS);
    },
    CONVERGE_TEST_MS,
  );

  it(
    'web-02, its agent stopped during a deploy, gets the revision when it comes back',
    async () => {
      await deployed({ compose: GOOD(), on_drift: 'repair' });
      await fleet.stopAgent('web-02');
      let revision: number;
      let whileStopped: StackHost | undefined;
      try {
        const res = await deploy({ compose: compose({ webTag: '1' }), on_drift: 'repair' });
        expect(res.status).toBeLessThan(300);
        revision = res.body.revision as number;
        await settled(res.body.job_id as string);
        expect((await runningImages('web-01')).web).toBe(image('web', '1'));
        expect((await runningImages('web-02')).web).toBe(image('web', '2'));
        whileStopped = (await stackHosts())['web-02'];
      } finally {
        await fleet.startAgent('web-02');
      }
      await eventually(
        () => runningImages('web-02'),
        (images) => expect(images.web).toBe(image('web', '1')),
        CONVERGE_MS,
      );
      await eventually(stackHosts, (hosts) => expect(hosts['web-02']).toMatchObject({ state: 'in_sync', revision }), CONVERGE_MS);
      // While its agent was stopped, GET /stack/{name} listed web-02 as a host the target reaches that has not caught up.
      expect({ whileStopped: whileStopped?.state }).toEqual({ whileStopped: expect.stringMatching(/^(offline|pending)$/) });
    },
    CONVERGE_TEST_MS,
  );

  it(
    'DELETE /stack removes every container, network and volume of it from every engine',
    async () => {
      const res = await api(fleet, 'DELETE', `/stack/${STACK}`);
      expect(res.status).toBeLessThan(300);
      if (res.body?.job_id) await settled(res.body.job_id as string);
      for (const host of HOSTS) {
        await eventually(
          () => anythingOf(fleet.docker(host), STACK),
          (left) => expect({ host, left }).toEqual({ host, left: [] }),
          CONVERGE_MS,
        );
      }
      expect((await api(fleet, 'GET', `/stack/${STACK}`)).status).toBe(404);
      // Removing it again from each host (stack.host.remove) finds nothing left to change.
      const again = await api(fleet, 'DELETE', `/node/_all/stack/${STACK}`);
      expect(
        again.body.results.map((row: { hostname: string; status: string; changed: boolean }) => [row.hostname, row.status, row.changed]),
      ).toEqual(HOSTS.map((host) => [host, 'ok', false]));
    },
    CONVERGE_TEST_MS,
  );
});

describe('refusals: a 4xx with its reason, and nothing created on any engine', () => {
  async function expectRefused(res: ApiResponse, status: number, name: string, mentions: string[]): Promise<void> {
    expect(res.status).toBe(status);
    expect(isErrorReason(res.body.reason)).toBe(true);
    expect(res.body.code).toBe(status);
    for (const text of mentions) expect(res.body.details).toContain(text);
    for (const host of HOSTS) expect({ host, made: await anythingOf(fleet.docker(host), name) }).toEqual({ host, made: [] });
    expect((await api(fleet, 'GET', `/stack/${name}`)).status).toBe(404);
  }

  it('an unsupported compose key is a 400 naming the key and its path', async () => {
    const res = await deploy({ compose: compose({ webTag: '1', webExtra: ['    privileged: true'] }) }, undefined, 'refused-key');
    expect(res.body).toMatchObject({ reason: 'invalid_compose', key: 'privileged', path: 'services.web.privileged' });
    await expectRefused(res, 400, 'refused-key', ['services.web.privileged']);
  });

  it("a bind mount deployed with an operator key (no docker:host) is a 403 naming 'docker:host'", async () => {
    const bind = ['    volumes:', '      - /etc:/host-etc:ro'];
    const res = await deploy({ compose: compose({ webTag: '1', webExtra: bind }) }, fleet.mintKey('operator'), 'refused-bind');
    await expectRefused(res, 403, 'refused-bind', ["'docker:host'"]);
  });

  it('an operator key scoped to role:web deploying to role:db or _all is refused, naming no host outside its scope', async () => {
    const key = fleet.mintKey('operator', { scope: 'role:web' });
    for (const target of ['role:db', '_all']) {
      const res = await api(fleet, 'PUT', '/stack/refused-scope', { key, body: { target, compose: compose({ webTag: '1' }) } });
      expect({ target, status: res.status, db: JSON.stringify(res.body).includes('db-01') }).toEqual({ target, status: 404, db: false });
      await expectRefused(res, 404, 'refused-scope', []);
    }
  });

  it("a viewer key may read stacks but not deploy one (403 naming 'stack:write')", async () => {
    const key = fleet.mintKey('viewer');
    expect((await api(fleet, 'GET', '/stack', { key })).status).toBe(200);
    const res = await deploy({ compose: compose({ webTag: '1' }) }, key, 'refused-viewer');
    await expectRefused(res, 403, 'refused-viewer', ["'stack:write'"]);
  });
});
