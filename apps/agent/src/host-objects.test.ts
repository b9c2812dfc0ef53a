import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { DEFAULT_REGISTRIES } from '@fleet/contracts/host-access';
import { engineRequestUses, HostObjects, nodeOperationUses } from './host-objects';

const MASKED = [
  '/proc/asound',
  '/proc/acpi',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
];
const READONLY = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

/** HostConfig as engine 20.10 answers inspect for `docker run busybox` on a cgroup v1 host. */
const DEFAULT_HOST_CONFIG = {
  Binds: null,
  NetworkMode: 'default',
  IpcMode: 'private',
  CgroupnsMode: 'host',
  PidMode: '',
  Privileged: false,
  CapAdd: null,
  CapDrop: null,
  LogConfig: { Type: 'json-file', Config: {} },
  Runtime: 'runc',
  ShmSize: 67108864,
  ConsoleSize: [0, 0],
  Devices: [],
  OomKillDisable: false,
  MaskedPaths: MASKED,
  ReadonlyPaths: READONLY,
};

function container(name: string, hostConfig: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return {
    Id: `${name}-full-id`,
    Name: `/${name}`,
    HostConfig: { ...DEFAULT_HOST_CONFIG, ...hostConfig },
    Mounts: [],
    NetworkSettings: { Networks: { bridge: {} } },
    ...extra,
  };
}

/** What the fake engine holds, by inspect path. */
const objects: Record<string, unknown> = {
  '/containers/plain/json': container('plain', {}),
  '/containers/priv/json': container('priv', { Privileged: true, MaskedPaths: null, ReadonlyPaths: null }),
  '/containers/unmasked/json': container('unmasked', { MaskedPaths: [], ReadonlyPaths: [] }),
  '/containers/onvol/json': container('onvol', {}, { Mounts: [{ Type: 'volume', Name: 'bindvol', Driver: 'local' }] }),
  '/containers/onnet/json': container('onnet', {}, { NetworkSettings: { Networks: { mv: {} } } }),
  '/exec/e1/json': { ContainerID: 'priv' },
  '/volumes/bindvol': { Name: 'bindvol', Driver: 'local', Options: { type: 'none', o: 'bind', device: '/etc' } },
  '/volumes/plainvol': { Name: 'plainvol', Driver: 'local', Options: null },
  '/networks/mv': {
    Name: 'mv',
    Driver: 'macvlan',
    Scope: 'local',
    Options: { parent: 'eth0' },
    IPAM: { Driver: 'default', Options: {}, Config: [] },
    Ingress: false,
    ConfigFrom: { Network: '' },
  },
  '/networks/plainnet': {
    Name: 'plainnet',
    Driver: 'bridge',
    Scope: 'local',
    Options: {},
    IPAM: { Driver: 'default', Options: null, Config: [{ Subnet: '172.30.0.0/16' }] },
    Ingress: false,
    ConfigFrom: { Network: '' },
  },
};

let dir: string;
let server: Server;
let judge: HostObjects;
const asked: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync('/tmp/flt-hostobjects-');
  server = createServer((req, res) => {
    asked.push(req.url ?? '');
    const found = objects[decodeURIComponent(req.url ?? '')];
    res.statusCode = found ? 200 : 404;
    res.end(JSON.stringify(found ?? { message: 'no such object' }));
  });
  await new Promise<void>((resolve) => server.listen(join(dir, 'engine.sock'), resolve));
  judge = new HostObjects(join(dir, 'engine.sock'), { registries: DEFAULT_REGISTRIES });
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

const uses = (over: Partial<{ container: string; exec: string; volumes: string[]; networks: string[] }>) => ({
  volumes: [],
  networks: [],
  ...over,
});

describe('host-level objects on the engine', () => {
  it("lets an ordinary container, volume and network be used, and pins the container's full id", async () => {
    expect(
      await judge.verdict(uses({ container: 'plain', volumes: ['plainvol', 'missing'], networks: ['plainnet', 'bridge', 'none'] })),
    ).toEqual({ containerId: 'plain-full-id' });
  });

  it('refuses a privileged or unmasked container, one on a bind volume or a macvlan network, and an exec of a privileged one', async () => {
    const refusal = async (what: Parameters<HostObjects['verdict']>[0]) => {
      const verdict = await judge.verdict(what);
      return 'refusal' in verdict ? verdict.refusal : undefined;
    };
    expect(await refusal(uses({ container: 'priv' }))).toEqual({
      status: 403,
      details: expect.stringMatching(/^container 'priv' is host-level \(HostConfig.Privileged true.*: using it needs 'docker:host'$/),
    });
    expect((await refusal(uses({ container: 'unmasked' })))?.details).toContain('HostConfig.MaskedPaths without /proc/acpi');
    expect((await refusal(uses({ container: 'onvol' })))?.details).toContain(
      "container 'onvol' uses volume 'bindvol', which is host-level",
    );
    expect((await refusal(uses({ container: 'onnet' })))?.details).toContain("container 'onnet' joins network 'mv', which is host-level");
    expect((await refusal(uses({ exec: 'e1' })))?.details).toContain("container 'priv' is host-level");
    expect((await refusal(uses({ volumes: ['bindvol'] })))?.details).toContain("volume 'bindvol'");
    expect((await refusal(uses({ networks: ['mv'] })))?.details).toContain("network 'mv'");
  });

  it('asks the engine for exactly the name given, encoded, and answers 502 when the engine fails', async () => {
    asked.length = 0;
    await judge.verdict(uses({ container: 'odd?name' }));
    expect(asked).toEqual(['/containers/odd%3Fname/json']);
    const broken = new HostObjects(join(dir, 'nothing.sock'), { registries: DEFAULT_REGISTRIES });
    expect(await broken.verdict(uses({ container: 'plain' }))).toEqual({
      refusal: { status: 502, details: expect.stringContaining('could not be judged') },
    });
  });
});

describe('what a request uses', () => {
  it('reads node operations: exec, archive and export use a container; create its volumes and network; connect its network', () => {
    expect(nodeOperationUses('docker.container.exec', { id: 'c' })).toEqual(uses({ container: 'c' }));
    expect(nodeOperationUses('docker.container.archive-put', { id: 'c' })).toEqual(uses({ container: 'c' }));
    expect(nodeOperationUses('docker.container.create', { body: { binds: ['v:/x', '/host:/h', 'w:/y:ro'], network: 'n' } })).toEqual(
      uses({ volumes: ['v', 'w'], networks: ['n'] }),
    );
    expect(nodeOperationUses('docker.network.connect', { id: 'n', body: { container: 'c' } })).toEqual(uses({ networks: ['n'] }));
    expect(nodeOperationUses('docker.container.start', { id: 'c' })).toBeUndefined();
  });

  it('reads proxied requests: container endpoints, exec start, connect, and a create body', () => {
    expect(engineRequestUses('POST', '/containers/{id}/attach', { id: 'c' }, undefined)).toEqual(uses({ container: 'c' }));
    expect(engineRequestUses('HEAD', '/containers/{id}/archive', { id: 'c' }, undefined)).toEqual(uses({ container: 'c' }));
    expect(engineRequestUses('POST', '/exec/{id}/start', { id: 'e' }, undefined)).toEqual(uses({ exec: 'e' }));
    expect(engineRequestUses('POST', '/networks/{id}/connect', { id: 'n' }, undefined)).toEqual(uses({ networks: ['n'] }));
    const body = {
      HostConfig: {
        Binds: ['v:/x'],
        Mounts: [
          { Type: 'volume', Source: 'm', Target: '/m' },
          { Type: 'tmpfs', Target: '/t' },
        ],
        NetworkMode: 'n',
      },
      NetworkingConfig: { EndpointsConfig: { e: {} } },
    };
    expect(engineRequestUses('POST', '/containers/create', {}, Buffer.from(JSON.stringify(body)))).toEqual(
      uses({ volumes: ['v', 'm'], networks: ['n', 'e'] }),
    );
    expect(engineRequestUses('GET', '/containers/{id}/logs', { id: 'c' }, undefined)).toBeUndefined();
  });
});
