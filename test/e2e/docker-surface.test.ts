/**
 * The Docker surface beyond create/start/stop/remove: container verbs, exec,
 * logs and reads, volumes, networks and system calls, through the real
 * gateway, NATS and agents on three real dockerd engines. After every
 * mutation the engines themselves are asked what happened.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { OperationName } from '@fleet/contracts/operations';
import { assertMatchesContract } from '../support/contract';
import { useTestFleet } from '../support/suite';
import { api, type ApiOptions, type ApiResponse } from '../support/http';

const IMAGE = 'local/busybox:latest';
const HOSTS = ['db-01', 'web-01', 'web-02'];
const WEB = ['web-01', 'web-02'];
const BASE = '/node';

interface Row {
  hostname: string;
  status: string;
  changed: boolean;
  error?: string;
  error_code?: number;
  [field: string]: unknown;
}

const fleet = useTestFleet();

/** One gateway call whose answer must have `status` and match the contract for `operation`. */
async function call(operation: OperationName, status: number, method: string, path: string, opts: ApiOptions = {}): Promise<ApiResponse> {
  const res = await api(fleet, method, `${BASE}${path}`, opts);
  expect({ path, status: res.status, body: res.status === status ? undefined : res.body }).toEqual({ path, status, body: undefined });
  assertMatchesContract(operation, status, res.body);
  return res;
}

function rows(res: ApiResponse): Row[] {
  return res.body.results as Row[];
}

function hostnames(res: ApiResponse): string[] {
  return rows(res).map((row) => row.hostname);
}

/** `[status, changed]` per row, in hostname order. */
function outcomes(res: ApiResponse): Array<[string, boolean]> {
  return rows(res).map((row) => [row.status, row.changed]);
}

/** What outcomes() reads when every row of `hosts` is ok, changed or not. */
function okOn(hosts: string[], { changed }: { changed: boolean }): Array<[string, boolean]> {
  return hosts.map(() => ['ok', changed]);
}

function containerOn(host: string, name: string) {
  return fleet.docker(host).getContainer(name).inspect();
}

async function createContainer(target: string, name: string, extra: Record<string, unknown> = {}): Promise<ApiResponse> {
  const body = { image: IMAGE, name, cmd: ['sleep', '300'], labels: { 'fleet.test': 'surface' }, auto_start: true, ...extra };
  return call('docker.container.create', 202, 'POST', `/${target}/container/docker`, { body });
}

/** Log lines are written by the container's process; give it a moment to have written them. */
async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 5_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > until) return value;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('container verbs change the engines as they say', () => {
  it('restarts, pauses, unpauses and kills; repeating one reports what the engine says, changed:false', async () => {
    await createContainer('role:web', 'verbs');
    const startedAt = (await containerOn('web-01', 'verbs')).State.StartedAt;

    const restart = await call('docker.container.restart', 202, 'POST', '/role:web/container/docker/verbs/restart?t=1');
    expect(hostnames(restart)).toEqual(WEB);
    expect(outcomes(restart)).toEqual(okOn(WEB, { changed: true }));
    const restarted = await containerOn('web-01', 'verbs');
    expect(restarted.State.Running).toBe(true);
    expect(restarted.State.StartedAt).not.toBe(startedAt);

    const pause = await call('docker.container.pause', 202, 'POST', '/role:web/container/docker/verbs/pause');
    expect(outcomes(pause)).toEqual(okOn(WEB, { changed: true }));
    for (const host of WEB) expect((await containerOn(host, 'verbs')).State.Paused).toBe(true);

    const pauseAgain = await call('docker.container.pause', 202, 'POST', '/role:web/container/docker/verbs/pause');
    for (const row of rows(pauseAgain))
      expect(row).toMatchObject({ status: 'failed', changed: false, error: expect.stringMatching(/already paused/), error_code: 409 });
    const pauseOne = await call('docker.container.pause', 409, 'POST', '/web-01/container/docker/verbs/pause');
    expect(pauseOne.body.error).toMatch(/already paused/);

    const unpause = await call('docker.container.unpause', 202, 'POST', '/role:web/container/docker/verbs/unpause');
    expect(outcomes(unpause)).toEqual(okOn(WEB, { changed: true }));
    for (const host of WEB) expect((await containerOn(host, 'verbs')).State).toMatchObject({ Paused: false, Running: true });
    const unpauseAgain = await call('docker.container.unpause', 202, 'POST', '/role:web/container/docker/verbs/unpause');
    for (const row of rows(unpauseAgain))
      expect(row).toMatchObject({ status: 'failed', changed: false, error: expect.stringMatching(/not paused/) });

    const kill = await call('docker.container.kill', 202, 'POST', '/role:web/container/docker/verbs/kill?signal=SIGKILL');
    expect(outcomes(kill)).toEqual(okOn(WEB, { changed: true }));
    for (const host of WEB) expect((await containerOn(host, 'verbs')).State).toMatchObject({ Running: false, ExitCode: 137 });
    const killAgain = await call('docker.container.kill', 202, 'POST', '/role:web/container/docker/verbs/kill');
    for (const row of rows(killAgain))
      expect(row).toMatchObject({ status: 'failed', changed: false, error: expect.stringMatching(/is not running/), error_code: 409 });

    const badSignal = await call('docker.container.kill', 400, 'POST', '/web-01/container/docker/verbs/kill?signal=SIG-BOGUS');
    expect(badSignal.body.details).toContain('signal');
  });

  it('renames, refusing a name in use with 409', async () => {
    await createContainer('_all', 'before-rename');
    await createContainer('db-01', 'taken');

    const rename = await call('docker.container.rename', 202, 'POST', '/_all/container/docker/before-rename/rename?name=after-rename');
    expect(outcomes(rename)).toEqual(okOn(HOSTS, { changed: true }));
    for (const host of HOSTS) {
      expect((await containerOn(host, 'after-rename')).Name).toBe('/after-rename');
      await expect(containerOn(host, 'before-rename')).rejects.toMatchObject({ statusCode: 404 });
    }

    const conflict = await call('docker.container.rename', 409, 'POST', '/db-01/container/docker/after-rename/rename?name=taken');
    expect(conflict.body).toMatchObject({ code: 409, job_id: expect.any(String) });
    expect((await containerOn('db-01', 'after-rename')).Name).toBe('/after-rename');
  });

  it('updates resources and restart policy, changed:false when they already have those values', async () => {
    await createContainer('role:web', 'limits');
    // [contract field, Engine HostConfig field, value]
    const settings: Array<[string, string, unknown]> = [
      ['memory', 'Memory', 64 * 1024 * 1024],
      ['memory_swap', 'MemorySwap', 128 * 1024 * 1024],
      ['cpu_shares', 'CpuShares', 512],
      ['nano_cpus', 'NanoCpus', 500_000_000],
      ['cpuset_cpus', 'CpusetCpus', '0'],
      ['pids_limit', 'PidsLimit', 64],
    ];
    const body = {
      ...Object.fromEntries(settings.map(([field, , value]) => [field, value])),
      restart_policy: { name: 'on-failure', maximum_retry_count: 3 },
    };
    const update = await call('docker.container.update', 202, 'POST', '/role:web/container/docker/limits/update', { body });
    expect(outcomes(update)).toEqual(okOn(WEB, { changed: true }));
    for (const host of WEB) {
      const { HostConfig } = await containerOn(host, 'limits');
      expect(HostConfig).toMatchObject(Object.fromEntries(settings.map(([, engineField, value]) => [engineField, value])));
      expect(HostConfig.RestartPolicy).toEqual({ Name: 'on-failure', MaximumRetryCount: 3 });
    }

    const again = await call('docker.container.update', 202, 'POST', '/role:web/container/docker/limits/update', { body });
    expect(outcomes(again)).toEqual(okOn(WEB, { changed: false }));

    const invalid = await call('docker.container.update', 400, 'POST', '/web-01/container/docker/limits/update', {
      body: { restart_policy: { name: 'sometimes' } },
    });
    expect(invalid.body.details).toContain('restart_policy');
    const unknown = await call('docker.container.update', 400, 'POST', '/web-01/container/docker/limits/update', {
      body: { memory: 1, kernel_memory: 1 },
    });
    expect(unknown.body.details).toContain('kernel_memory');
  });

  it('creates with ports, binds, volumes, restart policy, resources, network and hostname', async () => {
    const shared = join(fleet.dir, 'shared');
    mkdirSync(shared, { recursive: true });
    writeFileSync(join(shared, 'hello.txt'), 'from the host\n');
    await fleet.docker('web-01').createNetwork({ Name: 'publish-net', Driver: 'bridge' });

    await createContainer('web-01', 'configured', {
      hostname: 'configured-host',
      network: 'publish-net',
      ports: { '80/tcp': '127.0.0.1:0', '53/udp': '' },
      binds: [`${shared}:/shared:ro`, 'configured-data:/data'],
      volumes: ['/scratch'],
      restart_policy: { name: 'unless-stopped' },
      memory: 32 * 1024 * 1024,
      nano_cpus: 250_000_000,
    });
    const inspected = await containerOn('web-01', 'configured');
    expect(inspected.Config.Hostname).toBe('configured-host');
    expect(Object.keys(inspected.Config.ExposedPorts ?? {}).sort()).toEqual(['53/udp', '80/tcp']);
    expect(inspected.HostConfig).toMatchObject({
      NetworkMode: 'publish-net',
      PortBindings: { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '0' }], '53/udp': [{ HostIp: '', HostPort: '' }] },
      Binds: [`${shared}:/shared:ro`, 'configured-data:/data'],
      RestartPolicy: { Name: 'unless-stopped', MaximumRetryCount: 0 },
      Memory: 32 * 1024 * 1024,
      NanoCpus: 250_000_000,
    });
    // On a bridge network the engine really publishes: an ephemeral loopback port.
    expect(Number(inspected.NetworkSettings.Ports['80/tcp']?.[0]?.HostPort)).toBeGreaterThan(0);
    expect(inspected.NetworkSettings.Networks).toHaveProperty('publish-net');
    const mounts = Object.fromEntries(inspected.Mounts.map((m) => [m.Destination, m]));
    expect(mounts['/shared']).toMatchObject({ Type: 'bind', Source: shared, RW: false });
    expect(mounts['/data']).toMatchObject({ Type: 'volume', Name: 'configured-data' });
    expect(mounts['/scratch']).toMatchObject({ Type: 'volume' });

    const read = await call('docker.container.exec', 202, 'POST', '/web-01/container/docker/configured/exec', {
      body: { cmd: ['cat', '/shared/hello.txt'] },
    });
    expect(rows(read)[0]).toMatchObject({ status: 'ok', exit_code: 0, stdout: 'from the host\n', stderr: '' });

    // With network none the engine accepts and records the binding but publishes nothing.
    await createContainer('web-01', 'unpublished', { network: 'none', ports: { '8080': '' } });
    const unpublished = await containerOn('web-01', 'unpublished');
    expect(unpublished.HostConfig).toMatchObject({ NetworkMode: 'none', PortBindings: { '8080/tcp': [{ HostIp: '', HostPort: '' }] } });
    expect(unpublished.NetworkSettings.Ports ?? {}).toEqual({});

    const badPort = await call('docker.container.create', 400, 'POST', '/web-01/container/docker', {
      body: { image: IMAGE, ports: { http: '80' } },
    });
    expect(badPort.body.details).toContain('ports');
  });
});

describe('create → start → exec → logs → stop → remove', () => {
  it.each([
    ['_all', HOSTS],
    ['role:web', WEB],
  ])('runs the whole lifecycle on %s, checked on every engine', async (target, expected) => {
    const name = `flow-${target.replace(/\W/g, '')}`;
    const created = await createContainer(target, name, {
      cmd: ['sh', '-c', 'echo started; echo complaint >&2; sleep 1; echo ready; exec sleep 300'],
      auto_start: false,
    });
    expect(hostnames(created)).toEqual(expected);
    for (const host of expected) expect((await containerOn(host, name)).State.Status).toBe('created');
    for (const host of HOSTS.filter((h) => !expected.includes(h)))
      await expect(containerOn(host, name)).rejects.toMatchObject({ statusCode: 404 });

    const started = await call('docker.container.start', 202, 'POST', `/${target}/container/docker/${name}/start`);
    expect(outcomes(started).every(([status, changed]) => status === 'ok' && changed)).toBe(true);
    for (const host of expected) expect((await containerOn(host, name)).State.Running).toBe(true);

    const exec = await call('docker.container.exec', 202, 'POST', `/${target}/container/docker/${name}/exec`, {
      body: { cmd: ['echo', 'hi'] },
    });
    expect(hostnames(exec)).toEqual(expected);
    for (const row of rows(exec)) expect(row).toMatchObject({ status: 'ok', changed: true, stdout: 'hi\n', stderr: '', exit_code: 0 });

    const logs = await eventually(
      () => call('docker.container.logs', 200, 'GET', `/${target}/container/docker/${name}/logs`),
      (res) => rows(res).every((row) => String(row.stdout).endsWith('ready\n')),
    );
    for (const row of rows(logs))
      expect(row).toMatchObject({ status: 'ok', changed: false, stdout: 'started\nready\n', stderr: 'complaint\n' });
    const stdoutOnly = await call(
      'docker.container.logs',
      200,
      'GET',
      `/${target}/container/docker/${name}/logs?stderr=false&timestamps=true`,
    );
    for (const row of rows(stdoutOnly)) {
      expect(row.stderr).toBe('');
      expect(row.stdout).toMatch(/^\d{4}-\d\d-\d\dT\S+ started\n\d{4}-\d\d-\d\dT\S+ ready\n$/);
    }
    const lastLine = await call('docker.container.logs', 200, 'GET', `/${target}/container/docker/${name}/logs?tail=1`);
    for (const row of rows(lastLine)) expect(row).toMatchObject({ stdout: 'ready\n', stderr: '' });
    const future = Math.floor(Date.now() / 1000) + 3600;
    const none = await call('docker.container.logs', 200, 'GET', `/${target}/container/docker/${name}/logs?since=${future}`);
    for (const row of rows(none)) expect(row).toMatchObject({ stdout: '', stderr: '' });

    const stopped = await call('docker.container.stop', 202, 'POST', `/${target}/container/docker/${name}/stop?t=1`);
    expect(outcomes(stopped).every(([status, changed]) => status === 'ok' && changed)).toBe(true);
    for (const host of expected) expect((await containerOn(host, name)).State.Running).toBe(false);

    const removed = await call('docker.container.remove', 202, 'DELETE', `/${target}/container/docker/${name}`);
    expect(outcomes(removed).every(([status, changed]) => status === 'ok' && changed)).toBe(true);
    for (const host of expected) await expect(containerOn(host, name)).rejects.toMatchObject({ statusCode: 404 });
  });
});

describe('exec', () => {
  beforeAll(async () => {
    await createContainer('web-01', 'shell');
  });

  it('reports a non-zero exit as ok with the exit code and both streams', async () => {
    const res = await call('docker.container.exec', 202, 'POST', '/web-01/container/docker/shell/exec', {
      body: { cmd: ['sh', '-c', 'echo out; echo err >&2; exit 3'] },
    });
    expect(rows(res)).toEqual([
      expect.objectContaining({ hostname: 'web-01', status: 'ok', changed: true, exit_code: 3, stdout: 'out\n', stderr: 'err\n' }),
    ]);
  });

  it('passes env, workdir and user', async () => {
    const body = { cmd: ['sh', '-c', 'echo $GREETING; pwd; id -u'], env: { GREETING: 'hello there' }, workdir: '/tmp', user: '65534' };
    const res = await call('docker.container.exec', 202, 'POST', '/web-01/container/docker/shell/exec', { body });
    expect(rows(res)[0]).toMatchObject({ exit_code: 0, stdout: 'hello there\n/tmp\n65534\n' });
  });

  it('is bounded by the deadline: a command still running gets 504 in time', async () => {
    const started = Date.now();
    const res = await call('docker.container.exec', 504, 'POST', '/web-01/container/docker/shell/exec?timeout=2', {
      body: { cmd: ['sleep', '30'] },
    });
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(res.body.code).toBe(504);
  });

  it('fails with the engine message on a stopped container, and needs docker:exec', async () => {
    await createContainer('web-01', 'not-running', { auto_start: false });
    const stopped = await call('docker.container.exec', 409, 'POST', '/web-01/container/docker/not-running/exec', {
      body: { cmd: ['true'] },
    });
    expect(stopped.body.error).toMatch(/not running/);

    const viewer = fleet.mintKey('viewer');
    const forbidden = await call('docker.container.exec', 403, 'POST', '/web-01/container/docker/shell/exec', {
      key: viewer,
      body: { cmd: ['true'] },
    });
    expect(forbidden.body.details).toContain('docker:exec');
    const missingCmd = await call('docker.container.exec', 400, 'POST', '/web-01/container/docker/shell/exec', { body: { env: {} } });
    expect(missingCmd.body.details).toContain('cmd');
  });
});

describe('container reads: top, stats, changes, wait; and prune', () => {
  beforeAll(async () => {
    await createContainer('role:web', 'reads');
  });

  it('lists processes with top', async () => {
    const top = await call('docker.container.top', 200, 'GET', '/role:web/container/docker/reads/top');
    for (const row of rows(top)) {
      expect(row).toMatchObject({ status: 'ok', changed: false, titles: expect.arrayContaining(['PID', 'CMD']) });
      expect((row.processes as string[][]).map((p) => p[p.length - 1])).toContain('sleep 300');
    }
    const aux = await call('docker.container.top', 200, 'GET', '/web-01/container/docker/reads/top?ps_args=aux');
    expect(rows(aux)[0].titles).toEqual(expect.arrayContaining(['USER', '%CPU', 'COMMAND']));
  });

  it('reads one stats sample', async () => {
    const stats = await call('docker.container.stats', 200, 'GET', '/role:web/container/docker/reads/stats');
    for (const row of rows(stats)) {
      const sample = row.stats as { name: string; pids_stats: { current: number }; memory_stats: object };
      expect(sample.name).toBe('/reads');
      expect(sample.pids_stats.current).toBeGreaterThan(0);
      expect(sample.memory_stats).toBeDefined();
    }
  });

  it('lists filesystem changes', async () => {
    await call('docker.container.exec', 202, 'POST', '/role:web/container/docker/reads/exec', {
      body: { cmd: ['touch', '/tmp/made-by-exec'] },
    });
    const changes = await call('docker.container.changes', 200, 'GET', '/role:web/container/docker/reads/changes');
    for (const row of rows(changes)) expect(row.changes).toEqual(expect.arrayContaining([{ Path: '/tmp/made-by-exec', Kind: 1 }]));
  });

  it('waits for the exit code, and gives up at the deadline', async () => {
    await createContainer('role:web', 'exits', { cmd: ['sh', '-c', 'sleep 1; exit 7'] });
    const waited = await call('docker.container.wait', 200, 'POST', '/role:web/container/docker/exits/wait');
    for (const row of rows(waited)) expect(row).toMatchObject({ status: 'ok', changed: false, exit_code: 7 });
    for (const host of WEB) expect((await containerOn(host, 'exits')).State).toMatchObject({ Running: false, ExitCode: 7 });

    const started = Date.now();
    const forever = await call('docker.container.wait', 200, 'POST', '/role:web/container/docker/reads/wait?condition=next-exit&timeout=2');
    expect(Date.now() - started).toBeLessThan(10_000);
    for (const row of rows(forever)) expect(row).toMatchObject({ status: 'failed', error_code: 504 });
    const one = await call('docker.container.wait', 504, 'POST', '/web-01/container/docker/reads/wait?condition=next-exit&timeout=1');
    expect(one.body.code).toBe(504);
  });

  it('prunes stopped containers matching the filters, and nothing the second time', async () => {
    for (const name of ['prune-a', 'prune-b'])
      await createContainer('_all', name, { auto_start: false, labels: { 'fleet.test': 'prune' } });
    await createContainer('_all', 'prune-running', { labels: { 'fleet.test': 'prune' } });
    const filters = encodeURIComponent(JSON.stringify({ label: ['fleet.test=prune'] }));

    const pruned = await call('docker.container.prune', 202, 'POST', `/_all/container/docker/prune?filters=${filters}`);
    for (const row of rows(pruned)) {
      expect(row).toMatchObject({ status: 'ok', changed: true, space_reclaimed: expect.any(Number) });
      expect(row.containers_deleted).toHaveLength(2);
    }
    for (const host of HOSTS) {
      const left = await fleet.docker(host).listContainers({ all: true, filters: JSON.stringify({ label: ['fleet.test=prune'] }) });
      expect(left.map((c) => c.Names[0])).toEqual(['/prune-running']);
    }

    const again = await call('docker.container.prune', 202, 'POST', `/_all/container/docker/prune?filters=${filters}`);
    expect(outcomes(again)).toEqual(okOn(HOSTS, { changed: false }));
  });
});

describe('volumes', () => {
  it('creates, lists, inspects and removes a volume on _all, truthfully', async () => {
    const body = { name: 'surface-data', labels: { 'fleet.test': 'volumes' } };
    const created = await call('docker.volume.create', 202, 'POST', '/_all/container/docker/volume', { body });
    expect(hostnames(created)).toEqual(HOSTS);
    expect(outcomes(created)).toEqual(okOn(HOSTS, { changed: true }));
    for (const host of HOSTS) expect((await fleet.docker(host).getVolume('surface-data').inspect()).Labels).toEqual(body.labels);

    const again = await call('docker.volume.create', 202, 'POST', '/_all/container/docker/volume', { body });
    expect(outcomes(again)).toEqual(okOn(HOSTS, { changed: false }));

    const filters = encodeURIComponent(JSON.stringify({ label: ['fleet.test=volumes'] }));
    const list = await call('docker.volume.list', 200, 'GET', `/_all/container/docker/volume?filters=${filters}`);
    for (const row of rows(list)) expect((row.volumes as Array<{ Name: string }>).map((v) => v.Name)).toEqual(['surface-data']);

    const inspect = await call('docker.volume.inspect', 200, 'GET', '/web-02/container/docker/volume/surface-data');
    expect(rows(inspect)[0]).toMatchObject({ changed: false, id: 'surface-data', volume: { Name: 'surface-data', Driver: 'local' } });
    await call('docker.volume.inspect', 404, 'GET', '/web-02/container/docker/volume/no-such-volume');
    // A driver name that cannot be a plugin is refused up front, not searched for by the engine until the deadline.
    const badDriver = await call('docker.volume.create', 400, 'POST', '/web-02/container/docker/volume', {
      body: { name: 'odd', driver: ' ' },
    });
    expect(badDriver.body.details).toContain('driver');

    // In use: the engine refuses with 409 and the volume stays.
    await createContainer('db-01', 'uses-volume', { binds: ['surface-data:/data'] });
    const inUse = await call('docker.volume.remove', 409, 'DELETE', '/db-01/container/docker/volume/surface-data');
    expect(inUse.body.error).toMatch(/in use/);
    await call('docker.container.remove', 202, 'DELETE', '/db-01/container/docker/uses-volume?force=true');

    const removed = await call('docker.volume.remove', 202, 'DELETE', '/_all/container/docker/volume/surface-data');
    expect(outcomes(removed)).toEqual(okOn(HOSTS, { changed: true }));
    for (const host of HOSTS)
      await expect(fleet.docker(host).getVolume('surface-data').inspect()).rejects.toMatchObject({ statusCode: 404 });

    const absent = await call('docker.volume.remove', 202, 'DELETE', '/_all/container/docker/volume/surface-data');
    for (const row of rows(absent))
      expect(row).toMatchObject({ status: 'failed', changed: false, error: expect.stringMatching(/no such volume/), error_code: 404 });
    const forced = await call('docker.volume.remove', 202, 'DELETE', '/_all/container/docker/volume/surface-data?force=true');
    expect(outcomes(forced)).toEqual(okOn(HOSTS, { changed: false }));
  });

  it('creates an anonymous volume when no name is given', async () => {
    const created = await call('docker.volume.create', 202, 'POST', '/web-02/container/docker/volume', { body: {} });
    const name = rows(created)[0].id as string;
    expect(name).toMatch(/^[0-9a-f]{64}$/);
    await expect(fleet.docker('web-02').getVolume(name).inspect()).resolves.toMatchObject({ Name: name, Driver: 'local' });
  });

  it('prunes unused volumes matching the filters', async () => {
    for (const host of HOSTS) {
      await fleet.docker(host).createVolume({ Name: 'prune-me', Labels: { 'fleet.test': 'prune-volumes' } });
      await fleet.docker(host).createVolume({ Name: 'keep-me', Labels: { 'fleet.test': 'keep' } });
    }
    const filters = encodeURIComponent(JSON.stringify({ label: ['fleet.test=prune-volumes'] }));
    const pruned = await call('docker.volume.prune', 202, 'POST', `/_all/container/docker/volume/prune?filters=${filters}`);
    for (const row of rows(pruned))
      expect(row).toMatchObject({ status: 'ok', changed: true, volumes_deleted: ['prune-me'], space_reclaimed: expect.any(Number) });
    for (const host of HOSTS) {
      await expect(fleet.docker(host).getVolume('prune-me').inspect()).rejects.toMatchObject({ statusCode: 404 });
      await expect(fleet.docker(host).getVolume('keep-me').inspect()).resolves.toBeDefined();
    }
    const again = await call('docker.volume.prune', 202, 'POST', `/_all/container/docker/volume/prune?filters=${filters}`);
    expect(outcomes(again)).toEqual(okOn(HOSTS, { changed: false }));
  });
});

describe('networks', () => {
  it('creates, lists, inspects, connects, disconnects and removes an internal bridge network on _all', async () => {
    const body = { name: 'surface-net', driver: 'bridge', internal: true, labels: { 'fleet.test': 'networks' } };
    const created = await call('docker.network.create', 202, 'POST', '/_all/container/docker/network', { body });
    expect(outcomes(created)).toEqual(okOn(HOSTS, { changed: true }));
    for (const host of HOSTS) {
      const network = await fleet.docker(host).getNetwork('surface-net').inspect();
      expect(network).toMatchObject({ Driver: 'bridge', Internal: true, Labels: body.labels });
      expect(rows(created).find((row) => row.hostname === host)?.id).toBe(network.Id);
    }
    const duplicate = await call('docker.network.create', 202, 'POST', '/_all/container/docker/network', { body });
    for (const row of rows(duplicate))
      expect(row).toMatchObject({ status: 'failed', changed: false, error: expect.stringMatching(/already exists/), error_code: 409 });

    const filters = encodeURIComponent(JSON.stringify({ label: ['fleet.test=networks'] }));
    const list = await call('docker.network.list', 200, 'GET', `/_all/container/docker/network?filters=${filters}`);
    for (const row of rows(list)) expect((row.networks as Array<{ Name: string }>).map((n) => n.Name)).toEqual(['surface-net']);
    const inspect = await call('docker.network.inspect', 200, 'GET', '/db-01/container/docker/network/surface-net');
    expect(rows(inspect)[0]).toMatchObject({ changed: false, network: { Name: 'surface-net', Internal: true } });

    await createContainer('_all', 'net-member');
    const connect = await call('docker.network.connect', 202, 'POST', '/_all/container/docker/network/surface-net/connect', {
      body: { container: 'net-member' },
    });
    expect(outcomes(connect)).toEqual(okOn(HOSTS, { changed: true }));
    for (const host of HOSTS) expect((await containerOn(host, 'net-member')).NetworkSettings.Networks).toHaveProperty('surface-net');
    const connectAgain = await call('docker.network.connect', 409, 'POST', '/web-01/container/docker/network/surface-net/connect', {
      body: { container: 'net-member' },
    });
    expect(connectAgain.body.error).toMatch(/already exists/);
    const inUse = await call('docker.network.remove', 409, 'DELETE', '/web-01/container/docker/network/surface-net');
    expect(inUse.body.error).toMatch(/active endpoints/);

    const disconnect = await call('docker.network.disconnect', 202, 'POST', '/_all/container/docker/network/surface-net/disconnect', {
      body: { container: 'net-member', force: false },
    });
    expect(outcomes(disconnect)).toEqual(okOn(HOSTS, { changed: true }));
    for (const host of HOSTS) expect((await containerOn(host, 'net-member')).NetworkSettings.Networks).not.toHaveProperty('surface-net');
    const disconnectAgain = await call(
      'docker.network.disconnect',
      202,
      'POST',
      '/role:web/container/docker/network/surface-net/disconnect',
      { body: { container: 'net-member' } },
    );
    for (const row of rows(disconnectAgain))
      expect(row).toMatchObject({ status: 'failed', changed: false, error: expect.stringMatching(/not connected/) });

    const removed = await call('docker.network.remove', 202, 'DELETE', '/_all/container/docker/network/surface-net');
    expect(outcomes(removed)).toEqual(okOn(HOSTS, { changed: true }));
    for (const host of HOSTS)
      await expect(fleet.docker(host).getNetwork('surface-net').inspect()).rejects.toMatchObject({ statusCode: 404 });
    const absent = await call('docker.network.remove', 404, 'DELETE', '/web-02/container/docker/network/surface-net');
    expect(absent.body.error).toMatch(/not found/);
  });

  it('prunes unused networks matching the filters', async () => {
    for (const host of HOSTS)
      await fleet
        .docker(host)
        .createNetwork({ Name: 'prune-net', Driver: 'bridge', Internal: true, Labels: { 'fleet.test': 'prune-networks' } });
    const filters = encodeURIComponent(JSON.stringify({ label: ['fleet.test=prune-networks'] }));
    const pruned = await call('docker.network.prune', 202, 'POST', `/_all/container/docker/network/prune?filters=${filters}`);
    for (const row of rows(pruned)) expect(row).toMatchObject({ status: 'ok', changed: true, networks_deleted: ['prune-net'] });
    for (const host of HOSTS) await expect(fleet.docker(host).getNetwork('prune-net').inspect()).rejects.toMatchObject({ statusCode: 404 });
    const again = await call('docker.network.prune', 202, 'POST', `/_all/container/docker/network/prune?filters=${filters}`);
    expect(outcomes(again)).toEqual(okOn(HOSTS, { changed: false }));
  });
});

describe('system', () => {
  it('answers info, version, ping and df from each engine', async () => {
    const info = await call('docker.system.info', 200, 'GET', '/_all/container/docker/system/info');
    expect(hostnames(info)).toEqual(HOSTS);
    for (const row of rows(info)) {
      const own = await fleet.docker(row.hostname).info();
      expect(row).toMatchObject({ status: 'ok', changed: false, info: { ID: own.ID, DockerRootDir: own.DockerRootDir } });
    }
    expect(new Set(rows(info).map((row) => (row.info as { DockerRootDir: string }).DockerRootDir)).size).toBe(3);

    const version = await call('docker.system.version', 200, 'GET', '/_all/container/docker/system/version');
    const engineVersion = await fleet.docker('web-01').version();
    for (const row of rows(version))
      expect(row).toMatchObject({
        status: 'ok',
        changed: false,
        version: { Version: engineVersion.Version, ApiVersion: engineVersion.ApiVersion },
      });

    const ping = await call('docker.system.ping', 200, 'GET', '/_all/container/docker/system/ping');
    for (const row of rows(ping)) expect(row).toMatchObject({ status: 'ok', changed: false, message: 'OK' });

    const df = await call('docker.system.df', 200, 'GET', '/role:web/container/docker/system/df');
    expect(hostnames(df)).toEqual(WEB);
    for (const row of rows(df)) {
      const usage = row.df as { LayersSize: number; Images: Array<{ RepoTags: string[] }>; Containers: unknown[]; Volumes: unknown[] };
      expect(usage.LayersSize).toBeGreaterThan(0);
      expect(usage.Images.flatMap((image) => image.RepoTags ?? [])).toContain(IMAGE);
      expect(Array.isArray(usage.Containers)).toBe(true);
    }
  });
});
