/**
 * The agent's side of stacks on real engines (README "Stacks on the agents"): the node operations
 * `stack.host.apply|diff|remove|list` bring each targeted engine to a revision as `docker compose up -d` would,
 * checked with the real docker binary on each host (`docker ps --filter label=com.docker.compose.project=…`);
 * a second apply changes nothing; a container removed by hand is reported as drift and, with `on_drift: repair`,
 * recreated by the agent itself; a health gate looks at every container of the stack. Revisions are stored with
 * `PUT /stack/<name>` (the gateway keeps the fleet's stacks true and removes stacks it does not have), and the node
 * operations are then called with the same revision.
 */
import { BUSYBOX_IMAGE, findExecutable } from '@fleet/deploy';
import { parseCompose, type StackSpec } from '@fleet/contracts/compose';
import { api, forbiddenBody } from '../support/http';
import { runProcess } from '../support/proc';
import { useTestFleet } from '../support/suite';

const fleet = useTestFleet({ agentEnv: { FLEET_AGENT_HEARTBEAT_MS: '500' } });
const WEB = ['web-01', 'web-02'];

const specOf = (text: string): StackSpec => {
  const result = parseCompose(text);
  if (!result.ok) throw new Error(result.message);
  return result.spec;
};

const SHOP_YAML = `
services:
  app:
    image: ${BUSYBOX_IMAGE}
    command: sleep 3600
    depends_on: [db]
    labels: { team: shop }
  db:
    image: ${BUSYBOX_IMAGE}
    command: ["sleep", "3600"]
    volumes: ["data:/data"]
volumes:
  data:
`;
const SHOP = specOf(SHOP_YAML);

/** What the real docker binary lists on a host for a label filter: the container names, sorted. */
async function dockerPs(host: string, filter: string): Promise<string[]> {
  const result = await runProcess(
    findExecutable('docker'),
    ['-H', `unix://${fleet.socketOf(host)}`, 'ps', '--all', '--filter', `label=${filter}`, '--format', '{{.Names}}'],
    { timeoutMs: 30_000, onTimeout: 'reject' },
  );
  if (result.code !== 0) throw new Error(`docker ps failed: ${result.stderr}`);
  return result.stdout.split('\n').filter(Boolean).sort();
}

const apply = (target: string, revision: number, spec: StackSpec, query = '', on_drift: 'report' | 'repair' = 'report') =>
  api(fleet, 'POST', `/node/${target}/stack/shop/apply?timeout=60${query}`, { body: { revision, spec, on_drift } });

const containerIds = async (host: string) =>
  Object.fromEntries(
    await Promise.all(
      ['shop-app-1', 'shop-db-1'].map(async (name) => {
        const { Id, State } = await fleet.docker(host).getContainer(name).inspect();
        return [name, `${Id}@${State.StartedAt}`];
      }),
    ),
  );

async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, what: string): Promise<T> {
  const giveUpAt = Date.now() + 60_000;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > giveUpAt) throw new Error(`${what}: never happened; last ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

const stacksOn = async (host: string) => (await api(fleet, 'GET', `/node/${host}/stack`)).body.results[0].stacks;

/** Stores a revision with `PUT /stack/<name>` and waits for its rollout's job to end: the job as `GET /job` answers it. */
async function deploy(name: string, body: Record<string, unknown>) {
  const put = await api(fleet, 'PUT', `/stack/${name}`, { body });
  expect(put.status).toBeLessThan(300);
  return until(
    async () => (await api(fleet, 'GET', `/job/${put.body.job_id}`)).body,
    (job) => !['pending', 'running'].includes(job.status),
    `the rollout of ${name} revision ${put.body.revision}`,
  );
}

describe('stack.host.apply on role:web', () => {
  afterAll(async () => {
    await api(fleet, 'DELETE', '/stack/shop');
    await api(fleet, 'DELETE', '/stack/gate');
  });

  it('runs the stack on the web hosts only, named and labelled as compose does, in dependency order', async () => {
    const job = await deploy('shop', { compose: SHOP_YAML, target: 'role:web' });
    expect(job.results.map((row: { hostname: string }) => row.hostname)).toEqual(WEB);
    for (const row of job.results) {
      expect(row).toMatchObject({ status: 'ok', changed: true, revision: 1, containers: ['shop-db-1', 'shop-app-1'] });
      expect(row.changes).toEqual([
        { service: 'db', action: 'create', reason: 'no container' },
        { service: 'app', action: 'create', reason: 'no container' },
      ]);
    }
    for (const host of WEB) expect(await dockerPs(host, 'com.docker.compose.project=shop')).toEqual(['shop-app-1', 'shop-db-1']);
    expect(await dockerPs('db-01', 'com.docker.compose.project=shop')).toEqual([]);

    const docker = fleet.docker('web-02');
    const app = await docker.getContainer('shop-app-1').inspect();
    const db = await docker.getContainer('shop-db-1').inspect();
    expect(app.Config.Labels).toMatchObject({
      'com.docker.compose.project': 'shop',
      'com.docker.compose.service': 'app',
      'com.docker.compose.container-number': '1',
      'com.docker.compose.oneoff': 'False',
      'fleet.stack.revision': '1',
      team: 'shop',
    });
    expect(app.State.Running).toBe(true);
    // Dependency order: db started before app.
    expect(Date.parse(db.State.StartedAt)).toBeLessThanOrEqual(Date.parse(app.State.StartedAt));
    expect(Object.keys(app.NetworkSettings.Networks)).toEqual(['shop_default']);
    expect((await docker.getVolume('shop_data').inspect()).Labels).toMatchObject({ 'com.docker.compose.volume': 'data' });
  });

  it('a second apply of the same revision changes nothing on the engines', async () => {
    const before = await Promise.all(WEB.map(containerIds));
    const res = await apply('role:web', 1, SHOP);
    for (const row of res.body.results) {
      expect(row).toMatchObject({ status: 'ok', changed: false });
      expect(row.changes.map((change: { action: string }) => change.action)).toEqual(['none', 'none']);
    }
    expect(await Promise.all(WEB.map(containerIds))).toEqual(before);
  });

  it('diff says what a changed revision would recreate, and changes nothing', async () => {
    const before = await containerIds('web-01');
    const changed = { ...SHOP, services: { ...SHOP.services, app: { ...SHOP.services.app, command: ['sleep', '7200'] } } };
    const res = await api(fleet, 'POST', '/node/web-01/stack/shop/diff', { body: { revision: 2, spec: changed } });
    expect(res.status).toBe(200);
    expect(res.body.results[0].changes).toEqual([
      { service: 'db', action: 'none', reason: 'up to date' },
      { service: 'app', action: 'recreate', reason: 'config changed' },
    ]);
    expect(await containerIds('web-01')).toEqual(before);
  });

  it('reports a container removed by hand as drift, then recreates it once the stack says on_drift: repair', async () => {
    await fleet.docker('web-02').getContainer('shop-db-1').remove({ force: true });
    const drifted = await until(
      () => stacksOn('web-02'),
      (stacks) => stacks?.[0]?.state === 'drifted',
      'drift reported',
    );
    expect(drifted[0]).toMatchObject({
      name: 'shop',
      revision: 1,
      on_drift: 'report',
      drift: [{ service: 'db', what: 'missing (no container)' }],
    });
    expect(await dockerPs('web-02', 'com.docker.compose.service=db')).toEqual([]);

    // Revision 2 asks for repair: its rollout brings db back, and the agent keeps it there by itself.
    const job = await deploy('shop', { compose: SHOP_YAML, target: 'role:web', on_drift: 'repair' });
    expect(job.results.find((row: { hostname: string }) => row.hostname === 'web-02')).toMatchObject({ status: 'ok', changed: true });
    await fleet.docker('web-02').getContainer('shop-db-1').remove({ force: true });
    await until(
      () => dockerPs('web-02', 'com.docker.compose.service=db'),
      (names) => names.length === 1,
      'db recreated by the agent',
    );
    const repaired = await until(
      () => stacksOn('web-02'),
      (stacks) => stacks?.[0]?.state === 'in_sync',
      'in sync again',
    );
    expect(repaired[0]).toMatchObject({ name: 'shop', revision: 2, on_drift: 'repair' });
    expect((await fleet.docker('web-02').getContainer('shop-db-1').inspect()).State.Running).toBe(true);
  });

  it('a health gate looks at every container of the stack: a failing healthcheck fails the host (412)', async () => {
    const withCheck = (test: string) =>
      `${SHOP_YAML.replace('labels: { team: shop }', `healthcheck: { test: ["CMD", "${test}"], interval: 1s, retries: 1 }`)}`;
    const failed = await deploy('gate', { compose: withCheck('false'), target: 'db-01', rollout: { health: 'healthy' } });
    expect(failed.results[0]).toMatchObject({ hostname: 'db-01', status: 'failed', error_code: 412 });
    expect(failed.results[0].gate).toContain('gate-app-1: unhealthy');
    const passed = await deploy('gate', { compose: withCheck('true'), target: 'db-01', rollout: { health: 'healthy' } });
    expect(passed.results[0]).toMatchObject({ hostname: 'db-01', status: 'ok' });
    expect(passed.results[0].gate).toBe('gate-db-1: running (no healthcheck); gate-app-1: healthy');
  });

  it('refuses a bind mount to a key without docker:host, and a viewer altogether; nothing is created', async () => {
    const bind = specOf(`services:\n  app: { image: ${BUSYBOX_IMAGE}, volumes: ["/etc:/host-etc:ro"] }\n`);
    const operator = fleet.mintKey('operator');
    const res = await api(fleet, 'POST', '/node/db-01/stack/spy/apply', { key: operator, body: { revision: 1, spec: bind } });
    expect(res.status).toBe(403);
    expect(res.body).toEqual(forbiddenBody('docker:host'));
    const viewer = fleet.mintKey('viewer');
    const denied = await api(fleet, 'POST', '/node/db-01/stack/spy/apply', { key: viewer, body: { revision: 1, spec: SHOP } });
    expect(denied.body).toEqual(forbiddenBody('stack:write'));
    expect((await api(fleet, 'GET', '/node/db-01/stack', { key: viewer })).status).toBe(200);
    expect(await dockerPs('db-01', 'com.docker.compose.project=spy')).toEqual([]);
  });

  it('removes the stack as compose down does: containers and network gone, the volume kept, the stack forgotten', async () => {
    const removed = await api(fleet, 'DELETE', '/stack/shop');
    expect(removed.status).toBeLessThan(300);
    const job = await until(
      async () => (await api(fleet, 'GET', `/job/${removed.body.job_id}`)).body,
      (each) => !['pending', 'running'].includes(each.status),
      'the removal',
    );
    for (const row of job.results) expect(row).toMatchObject({ status: 'ok', changed: true, message: 'stack shop removed' });
    for (const host of WEB) {
      expect(await dockerPs(host, 'com.docker.compose.project=shop')).toEqual([]);
      const networks = await fleet.docker(host).listNetworks({ filters: JSON.stringify({ name: ['shop_default'] }) });
      expect(networks).toEqual([]);
      expect((await fleet.docker(host).getVolume('shop_data').inspect()).Name).toBe('shop_data');
      expect(await stacksOn(host)).toEqual([]);
    }
    await Promise.all(WEB.map((host) => fleet.docker(host).getVolume('shop_data').remove()));
  });
});
