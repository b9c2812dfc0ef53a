/**
 * Issue 17, part A: the gateway judges exactly what the engine will decode. dockerd reads a body
 * with Go's encoding/json (field names matched without case, Unicode folds included; the last of
 * duplicate keys wins, duplicate objects merge) and reads form bodies as query parameters; the
 * red team reached the host through each of these with an operator key (docker:write, no
 * docker:host), and through options the old denylist missed. Each attack is replayed through the
 * real gateway on real engines and checked on the engine (containers, volumes, networks, execs as
 * the engine reports them) or on a loopback listener the engine would have dialled.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { NatsConnection } from '@nats-io/transport-node';
import type { ContainerCreateOptions } from 'dockerode';
import { PROXY_FRAME, type ProxyOpen } from '@fleet/contracts/protocol';
import { BUSYBOX_IMAGE, freePort, startRegistry, stopRegistry, type Registry } from '@fleet/deploy';
import { attack } from '../support/attacks';
import { DockerCli } from '../support/docker-cli';
import { api } from '../support/http';
import { connectToFleetNats } from '../support/nats';
import { openProxySession } from '../support/proxy-session';
import { rawRequest, type RawAnswer } from '../support/raw-http';
import { useTestFleet } from '../support/suite';

jest.setTimeout(300_000);
const fleet = useTestFleet();
const HOST = 'web-01';
let gatewayLogin: NatsConnection;
let scratch: string;
let cli: DockerCli;
/** A listener on another loopback address, outside the test allowlist (127.0.0.1, localhost): where the engine must never be aimed. */
let bait: { server: Server; address: string; hits: string[] };

beforeAll(async () => {
  gatewayLogin = await connectToFleetNats(fleet.state);
  scratch = mkdtempSync('/tmp/flt-decode-');
  cli = new DockerCli(fleet.url, scratch);
  const hits: string[] = [];
  const server = createServer((req, res) => {
    hits.push(`${req.method} ${req.url}`);
    res.statusCode = 404;
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.2', resolve));
  bait = { server, address: `127.0.0.2:${(server.address() as AddressInfo).port}`, hits };
});

afterAll(async () => {
  await gatewayLogin?.close();
  await new Promise((resolve) => bait?.server.close(resolve));
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

const operator = () => fleet.mintKey('operator', { subject: 'attacker' });
/** `docker run -d --name <name> <flags> busybox sleep 600` on HOST as `key`. */
const runDetached = (key: string, name: string, flags: string[]) =>
  cli.run(HOST, key, ['run', '-d', '--name', name, ...flags, BUSYBOX_IMAGE, 'sleep', '600']);

/** One call through the proxy to web-01's engine with these exact bytes. */
function engineCall(
  method: string,
  enginePath: string,
  opts: { key?: string; contentType?: string; body?: string; prefix?: string } = {},
): Promise<RawAnswer> {
  const headers: Record<string, string> = { authorization: `Bearer ${opts.key ?? operator()}` };
  if (opts.contentType !== undefined) headers['content-type'] = opts.contentType;
  return rawRequest(fleet.url, method, `${opts.prefix ?? `/node/${HOST}/docker`}${enginePath}`, headers, opts.body ?? '');
}

/** Every way a container on the engine reaches the host, read from the engine's own inspect. */
async function hostReachingContainers(host: string): Promise<string[]> {
  const found: string[] = [];
  for (const summary of await fleet.docker(host).listContainers({ all: true })) {
    const name = summary.Names[0]?.replace(/^\//, '') ?? summary.Id;
    if (name.startsWith('admin-')) continue;
    const { HostConfig: config, Mounts: mounts } = await fleet.docker(host).getContainer(summary.Id).inspect();
    const flags: Array<[boolean, string]> = [
      [config.Privileged === true, 'privileged'],
      [mounts.some((mount) => mount.Type === 'bind'), 'bind mount'],
      [/^(host|container:)/.test(config.NetworkMode ?? ''), `network ${config.NetworkMode}`],
      [/^(host|container:)/.test(config.PidMode ?? ''), `pid ${config.PidMode}`],
      [/^(host|container:)/.test(config.IpcMode ?? ''), `ipc ${config.IpcMode}`],
      [config.UsernsMode === 'host', 'userns host'],
      [(config.CapAdd ?? []).length > 0, 'capabilities'],
      [(config.Devices ?? []).length > 0, 'devices'],
      [(config.SecurityOpt ?? []).some((opt: string) => !opt.startsWith('no-new-privileges')), 'security options'],
      [(config.MaskedPaths ?? ['unset']).length === 0 || (config.ReadonlyPaths ?? ['unset']).length === 0, 'unmasked /proc'],
      [Object.keys(config.Sysctls ?? {}).length > 0, 'sysctls'],
      [(config.CgroupParent ?? '') !== '', 'cgroup parent'],
    ];
    for (const [hit, what] of flags) if (hit) found.push(`${name}: ${what}`);
  }
  return found;
}

async function containerNames(host: string): Promise<string[]> {
  return (await fleet.docker(host).listContainers({ all: true })).flatMap((container) =>
    container.Names.map((name) => name.replace(/^\//, '')),
  );
}

/** Volumes the engine holds with driver options other than a tmpfs's, or a driver other than local. */
async function hostReachingVolumes(host: string): Promise<string[]> {
  const { Volumes } = await fleet.docker(host).listVolumes();
  return (Volumes ?? [])
    .filter((volume) => volume.Driver !== 'local' || (Object.keys(volume.Options ?? {}).length > 0 && volume.Options?.type !== 'tmpfs'))
    .map((volume) => volume.Name);
}

async function networkNames(host: string): Promise<string[]> {
  return (await fleet.docker(host).listNetworks()).map((network) => network.Name);
}

function expectRefused(res: RawAnswer, status: 400 | 403 | 404, mentions?: string): void {
  expect({ status: res.status, code: res.json?.code }).toEqual({ status, code: status });
  expect(String(res.json?.details ?? '')).not.toBe('');
  if (mentions) expect(String(res.json?.details)).toContain(mentions);
}

/**
 * The spellings Go's decoder takes for `name` besides the exact one: lower, upper, mixed case, and Unicode folds ('ſ' for s, the Kelvin
 * sign for k).
 */
function caseVariants(name: string): string[] {
  const mixed = [...name].map((char, index) => (index % 2 ? char.toUpperCase() : char.toLowerCase())).join('');
  const folded = name.replace(/s/gi, '\u017F').replace(/k/gi, '\u212A');
  return [...new Set([name.toLowerCase(), name.toUpperCase(), mixed, folded])].filter((variant) => variant !== name);
}

/** Host-reaching HostConfig fields, each with a value that reaches the host and its zero value. */
const HOST_FIELDS: Array<{ field: string; value: unknown; zero: unknown }> = [
  { field: 'Privileged', value: true, zero: false },
  { field: 'Binds', value: ['/:/host'], zero: null },
  { field: 'Mounts', value: [{ Type: 'bind', Source: '/', Target: '/host' }], zero: null },
  { field: 'NetworkMode', value: 'host', zero: '' },
  { field: 'PidMode', value: 'host', zero: '' },
  { field: 'IpcMode', value: 'host', zero: '' },
  { field: 'UsernsMode', value: 'host', zero: '' },
  { field: 'CapAdd', value: ['ALL'], zero: null },
  { field: 'Devices', value: [{ PathOnHost: '/dev/mem', PathInContainer: '/dev/mem', CgroupPermissions: 'rwm' }], zero: [] },
  { field: 'SecurityOpt', value: ['seccomp=unconfined', 'apparmor=unconfined'], zero: null },
  { field: 'MaskedPaths', value: [], zero: null },
  { field: 'ReadonlyPaths', value: [], zero: null },
  { field: 'Sysctls', value: { 'kernel.shm_rmid_forced': '1' }, zero: {} },
  { field: 'CgroupParent', value: '/', zero: '' },
];

describe('the engine decodes what the gateway judged', () => {
  attack(
    'every host-reaching HostConfig field in every spelling Go accepts, duplicated in both orders, at the top level or nested, through ' +
      'the proxy: refused, nothing reaches the host',
    async () => {
      const key = operator();
      const sent: Array<{ name: string; status: number }> = [];
      const send = async (name: string, body: string, status: 400 | 403) => {
        const res = await engineCall('POST', `/v1.41/containers/create?name=${name}`, { key, contentType: 'application/json', body });
        sent.push({ name, status: res.status });
        expectRefused(res, status);
      };
      const image = JSON.stringify(BUSYBOX_IMAGE);
      let index = 0;
      for (const { field, value, zero } of HOST_FIELDS) {
        const set = `${JSON.stringify(field)}:${JSON.stringify(value)}`;
        await send(`dec-${index++}`, `{"Image":${image},"HostConfig":{${set}}}`, 403);
        for (const variant of caseVariants(field))
          await send(`dec-${index++}`, `{"Image":${image},"HostConfig":{${JSON.stringify(variant)}:${JSON.stringify(value)}}}`, 400);
        for (const variant of caseVariants('HostConfig'))
          await send(`dec-${index++}`, `{"Image":${image},${JSON.stringify(variant)}:{${set}}}`, 400);
        const unset = `${JSON.stringify(field)}:${JSON.stringify(zero)}`;
        await send(`dec-${index++}`, `{"Image":${image},"HostConfig":{${unset}},"HostConfig":{${set}}}`, 400);
        await send(`dec-${index++}`, `{"Image":${image},"HostConfig":{${set}},"HostConfig":{${unset}}}`, 400);
        await send(`dec-${index++}`, `{"Image":${image},"HostConfig":{${unset},${set}}}`, 400);
        await send(`dec-${index++}`, `{"Image":${image},"HostConfig":{${set},${unset}}}`, 400);
        // The engine's create wrapper embeds a second HostConfig at the top level (read when "HostConfig" is absent), and nesting is not
        // flattening.
        await send(`dec-${index++}`, `{"Image":${image},${set}}`, 400);
        await send(`dec-${index++}`, `{"Image":${image},"HostConfig":{"HostConfig":{${set}}}}`, 400);
      }
      expect(sent.length).toBeGreaterThan(180);
      expect((await containerNames(HOST)).filter((name) => name.startsWith('dec-'))).toEqual([]);
      expect(await hostReachingContainers(HOST)).toEqual([]);
    },
  );

  attack('a lowercase or duplicated driver option of a bind volume, through the proxy: refused, no volume on the engine', async () => {
    const key = operator();
    const bind = '{"type":"none","o":"bind","device":"/etc"}';
    const bodies = [
      ...caseVariants('DriverOpts').map(
        (variant) => `{"Name":"dec-vol-${variant.length}-${randomUUID().slice(0, 6)}","${variant}":${bind}}`,
      ),
      `{"Name":"dec-vol-dup1","DriverOpts":{},"DriverOpts":${bind}}`,
      `{"Name":"dec-vol-dup2","DriverOpts":${bind},"DriverOpts":{}}`,
      `{"Name":"dec-vol-dup3","DriverOpts":{"type":"tmpfs","device":"tmpfs","type":"none","o":"bind","device":"/etc"}}`,
    ];
    for (const body of bodies)
      expectRefused(await engineCall('POST', '/v1.41/volumes/create', { key, contentType: 'application/json', body }), 400);
    const { Volumes } = await fleet.docker(HOST).listVolumes();
    expect((Volumes ?? []).map((volume) => volume.Name).filter((name) => name.startsWith('dec-vol'))).toEqual([]);
    expect(await hostReachingVolumes(HOST)).toEqual([]);
  });

  attack('case variants and duplicates of host-reaching fields through the node API: refused, nothing reaches the host', async () => {
    const key = operator();
    const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
    const image = JSON.stringify(BUSYBOX_IMAGE);
    const containerBodies = [
      ...['Binds', 'BINDS', 'bindſ', 'Network'].map(
        (field, i) => `{"image":${image},"name":"dec-node-${i}","${field}":${field === 'Network' ? '"host"' : '["/:/host"]'}}`,
      ),
      `{"image":${image},"name":"dec-node-dup","binds":["data:/data"],"binds":["/:/host"]}`,
      `{"image":${image},"name":"dec-node-net","network":"bridge","network":"host"}`,
    ];
    for (const body of containerBodies) {
      const res = await rawRequest(fleet.url, 'POST', `/node/${HOST}/container/docker`, headers, body);
      expect([400, 403]).toContain(res.status);
      expect(res.json?.code).toBe(res.status);
    }
    for (const field of ['DriverOpts', 'driverOpts', 'DRIVER_OPTS']) {
      const res = await rawRequest(
        fleet.url,
        'POST',
        `/node/${HOST}/container/docker/volume`,
        headers,
        `{"name":"dec-node-vol","${field}":{"type":"none","o":"bind","device":"/etc"}}`,
      );
      expect(res.status).toBe(400);
    }
    expect((await containerNames(HOST)).filter((name) => name.startsWith('dec-node'))).toEqual([]);
    expect(await hostReachingContainers(HOST)).toEqual([]);
    expect(await hostReachingVolumes(HOST)).toEqual([]);
  });

  attack(
    'query parameters sent in a form-encoded (or multipart) body, which Go reads before the query: refused, the engine fetched nothing',
    async () => {
      const key = operator();
      const url = `http://${bait.address}/rootfs.tar`;
      const attempts: Array<{ path: string; contentType: string; body: string }> = [
        {
          path: '/v1.41/images/create',
          contentType: 'application/x-www-form-urlencoded',
          body: `fromSrc=${encodeURIComponent(url)}&repo=dec-import`,
        },
        {
          path: '/v1.41/images/create?fromSrc=-&repo=dec-import',
          contentType: 'application/x-www-form-urlencoded',
          body: `fromSrc=${encodeURIComponent(url)}`,
        },
        {
          path: '/v1.41/images/create?fromImage=busybox',
          contentType: 'Application/X-WWW-Form-Urlencoded; charset=utf-8',
          body: `fromImage=${bait.address}/x`,
        },
        {
          path: '/v1.41/images/create',
          contentType: 'multipart/form-data; boundary=b',
          body: `--b\r\nContent-Disposition: form-data; name="fromSrc"\r\n\r\n${url}\r\n--b--\r\n`,
        },
        { path: '/v1.41/containers/create?name=dec-form', contentType: 'application/x-www-form-urlencoded', body: 'name=dec-form' },
      ];
      for (const { path, contentType, body } of attempts)
        expectRefused(await engineCall('POST', path, { key, contentType, body }), 400, contentType.split(';')[0].toLowerCase());
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(bait.hits).toEqual([]);
      expect(
        (await fleet.docker(HOST).listImages()).flatMap((image) => image.RepoTags ?? []).filter((tag) => tag.startsWith('dec-import')),
      ).toEqual([]);
    },
  );

  attack(
    "a stolen gateway NATS login sends the agent a case-folded privileged create, a form-encoded import and a malformed OPEN: the agent's own judgement refuses each",
    async () => {
      const open = (path: string, contentType: string, body: string, streamed = false): ProxyOpen => ({
        method: 'POST',
        path,
        headers: { 'content-type': contentType },
        hijack: false,
        body: streamed,
        caller: 'attacker',
        ...(streamed ? {} : { inline_body: Buffer.from(body).toString('base64') }),
      });
      const folded = await agentAnswer(
        open(
          '/v1.41/containers/create?name=dec-forged',
          'application/json',
          `{"Image":"${BUSYBOX_IMAGE}","hostconfig":{"privileged":true,"binds":["/:/host"]}}`,
        ),
      );
      expect(folded).toMatchObject({ kind: PROXY_FRAME.ABORT, json: { status: 400, details: expect.stringContaining('hostconfig') } });
      const form = await agentAnswer(open(`/v1.41/images/create?fromSrc=-`, 'application/x-www-form-urlencoded', '', true));
      expect(form).toMatchObject({ kind: PROXY_FRAME.ABORT, json: { status: 400 } });
      const malformed = await agentAnswer({
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        hijack: false,
        body: false,
      } as unknown as ProxyOpen);
      expect(malformed).toMatchObject({ kind: PROXY_FRAME.ABORT, json: { status: 400 } });
      // The agent is still there and still serves the proxy.
      expect((await engineCall('GET', '/_ping')).status).toBe(200);
      expect(await containerNames(HOST)).not.toContain('dec-forged');
      expect(bait.hits).toEqual([]);
    },
  );
});

/** Creates and starts a container on HOST behind the gateway's back, hands its id to `use`, and removes it whatever `use` did. */
async function withRunningContainer(spec: ContainerCreateOptions, use: (id: string) => Promise<void>): Promise<void> {
  const container = await fleet.docker(HOST).createContainer(spec);
  await container.start();
  try {
    await use(container.id);
  } finally {
    await container.remove({ force: true });
  }
}

/** Opens a proxy session with the gateway's own NATS login, as a thief of it would, and returns the agent's first answer. */
function agentAnswer(open: ProxyOpen): Promise<{ kind: number; json: unknown }> {
  return openProxySession(gatewayLogin, HOST, open);
}

describe('host-reaching options the old denylist missed', () => {
  attack(
    'local volumes of type overlay, nfs and cifs over host directories (proxy, node API, docker CLI): refused, no such volume',
    async () => {
      const key = operator();
      const options: Record<string, Record<string, string>> = {
        overlay: { type: 'overlay', device: 'overlay', o: 'lowerdir=/etc,upperdir=/tmp/dec-u,workdir=/tmp/dec-w' },
        nfs: { type: 'nfs', device: ':/', o: 'addr=127.0.0.1,nolock' },
        cifs: { type: 'cifs', device: '//127.0.0.1/share', o: 'username=x' },
      };
      for (const [kind, driverOpts] of Object.entries(options)) {
        expectRefused(
          await engineCall('POST', '/v1.41/volumes/create', {
            key,
            contentType: 'application/json',
            body: JSON.stringify({ Name: `dec-${kind}-proxy`, Driver: 'local', DriverOpts: driverOpts }),
          }),
          403,
          "'docker:host'",
        );
        const node = await api(fleet, 'POST', `/node/${HOST}/container/docker/volume`, {
          key,
          body: { name: `dec-${kind}-node`, driver: 'local', driver_opts: driverOpts },
        });
        expect({ status: node.status, details: node.body.details }).toEqual({
          status: 403,
          details: expect.stringContaining("'docker:host'"),
        });
        const opts = Object.entries(driverOpts).flatMap(([name, value]) => ['--opt', `${name}=${value}`]);
        const viaCli = await cli.run(HOST, key, ['volume', 'create', ...opts, `dec-${kind}-cli`]);
        expect(viaCli.code).not.toBe(0);
        expect(viaCli.stderr).toContain("'docker:host'");
      }
      const { Volumes } = await fleet.docker(HOST).listVolumes();
      expect((Volumes ?? []).map((volume) => volume.Name).filter((name) => /^dec-(overlay|nfs|cifs)/.test(name))).toEqual([]);
      expect(await hostReachingVolumes(HOST)).toEqual([]);
    },
  );

  attack(
    'MaskedPaths/ReadonlyPaths emptied (docker run --security-opt systempaths=unconfined, and the raw body): refused, /proc/sys stays ' +
      'masked',
    async () => {
      const key = operator();
      const viaCli = await runDetached(key, 'dec-sysfs-cli', ['--security-opt', 'systempaths=unconfined']);
      expect(viaCli.code).not.toBe(0);
      expect(viaCli.stderr).toContain("'docker:host'");
      for (const field of ['MaskedPaths', 'ReadonlyPaths']) {
        const body = JSON.stringify({ Image: BUSYBOX_IMAGE, Cmd: ['sleep', '600'], HostConfig: { [field]: [] } });
        expectRefused(
          await engineCall('POST', `/v1.41/containers/create?name=dec-${field}`, { key, contentType: 'application/json', body }),
          403,
          `HostConfig.${field}`,
        );
      }
      expect(
        (await containerNames(HOST)).filter(
          (name) => name.startsWith('dec-sysfs') || name.startsWith('dec-Masked') || name.startsWith('dec-Readonly'),
        ),
      ).toEqual([]);
      expect(await hostReachingContainers(HOST)).toEqual([]);
    },
  );

  attack("container:<id> network, PID and IPC modes joining a container in the host's PID namespace: refused", async () => {
    // In the host's PID namespace, not its network: the engine keeps a host-network sandbox mounted until it stops.
    await withRunningContainer(
      { name: 'admin-hostns', Image: BUSYBOX_IMAGE, Cmd: ['sleep', '600'], HostConfig: { PidMode: 'host', IpcMode: 'shareable' } },
      joinHostNamespaces,
    );
  });

  async function joinHostNamespaces(hostnsId: string): Promise<void> {
    const key = operator();
    const modes = { NetworkMode: `container:${hostnsId}`, PidMode: 'container:admin-hostns', IpcMode: 'container:admin-hostns' };
    for (const [field, mode] of Object.entries(modes)) {
      const body = JSON.stringify({ Image: BUSYBOX_IMAGE, Cmd: ['sleep', '600'], HostConfig: { [field]: mode } });
      expectRefused(
        await engineCall('POST', `/v1.41/containers/create?name=dec-join-${field}`, { key, contentType: 'application/json', body }),
        403,
        `HostConfig.${field}`,
      );
    }
    // The node API's contract already refuses the value (400); were it let through, the allowlist would (403).
    const node = await api(fleet, 'POST', `/node/${HOST}/container/docker`, {
      key,
      body: { image: BUSYBOX_IMAGE, name: 'dec-join-node', network: 'container:admin-hostns', cmd: ['sleep', '600'] },
    });
    expect([400, 403]).toContain(node.status);
    expect(node.body.code).toBe(node.status);
    const viaCli = await runDetached(key, 'dec-join-cli', ['--pid', 'container:admin-hostns']);
    expect(viaCli.stderr).toContain("'docker:host'");
    expect((await containerNames(HOST)).filter((name) => name.startsWith('dec-join'))).toEqual([]);
    expect(await hostReachingContainers(HOST)).toEqual([]);
  }

  attack(
    'exec create with Privileged: true (docker exec --privileged, the raw body, a lowercase key): refused, the engine holds no exec',
    async () => {
      await withRunningContainer({ name: 'dec-exec-victim', Image: BUSYBOX_IMAGE, Cmd: ['sleep', '600'] }, privilegedExecs);
    },
  );

  async function privilegedExecs(victimId: string): Promise<void> {
    const key = operator();
    const viaCli = await cli.run(HOST, key, ['exec', '--privileged', 'dec-exec-victim', 'true']);
    expect(viaCli.code).not.toBe(0);
    expect(viaCli.stderr).toContain("'docker:host'");
    expectRefused(
      await engineCall('POST', '/v1.41/containers/dec-exec-victim/exec', {
        key,
        contentType: 'application/json',
        body: '{"Cmd":["true"],"Privileged":true}',
      }),
      403,
      'Privileged',
    );
    expectRefused(
      await engineCall('POST', '/v1.41/containers/dec-exec-victim/exec', {
        key,
        contentType: 'application/json',
        body: '{"Cmd":["true"],"privileged":true}',
      }),
      400,
      'privileged',
    );
    expect((await fleet.docker(HOST).getContainer(victimId).inspect()).ExecIDs ?? []).toEqual([]);
  }

  attack(
    'macvlan and ipvlan networks, and a bridge bound to a host interface (proxy, node API, docker CLI): refused, no such network',
    async () => {
      const key = operator();
      const bodies = {
        'dec-macvlan': { Driver: 'macvlan', Options: { parent: 'lo' } },
        'dec-ipvlan': { Driver: 'ipvlan', Options: { parent: 'lo' } },
        'dec-bridge-lo': { Driver: 'bridge', Options: { 'com.docker.network.bridge.name': 'lo' } },
      };
      for (const [name, body] of Object.entries(bodies)) {
        expectRefused(
          await engineCall('POST', '/v1.41/networks/create', {
            key,
            contentType: 'application/json',
            body: JSON.stringify({ Name: name, ...body }),
          }),
          403,
          "'docker:host'",
        );
      }
      const node = await api(fleet, 'POST', `/node/${HOST}/container/docker/network`, {
        key,
        body: { name: 'dec-macvlan-node', driver: 'macvlan' },
      });
      expect(node.status).toBe(403);
      const viaCli = await cli.run(HOST, key, ['network', 'create', '-d', 'ipvlan', '-o', 'parent=lo', 'dec-ipvlan-cli']);
      expect(viaCli.stderr).toContain("'docker:host'");
      expect((await networkNames(HOST)).filter((name) => name.startsWith('dec-'))).toEqual([]);
    },
  );

  attack(
    'the engine aimed at an unlisted registry: pull (proxy and node API), push, docker login, distribution inspect; it never dialled',
    async () => {
      const key = operator();
      expectRefused(
        await engineCall('POST', `/v1.41/images/create?fromImage=${encodeURIComponent(`${bait.address}/x`)}&tag=latest`, { key }),
        403,
        'FLEET_REGISTRY_ALLOWLIST',
      );
      expectRefused(await engineCall('POST', `/v1.41/images/${bait.address}/x/push?tag=latest`, { key }), 403, 'FLEET_REGISTRY_ALLOWLIST');
      expectRefused(await engineCall('GET', `/v1.41/distribution/${bait.address}/x/json`, { key }), 403, 'FLEET_REGISTRY_ALLOWLIST');
      const auth = await engineCall('POST', '/v1.41/auth', {
        key,
        contentType: 'application/json',
        body: JSON.stringify({ username: 'u', password: 'dec-secret-pw', serveraddress: bait.address }),
      });
      expectRefused(auth, 403, 'FLEET_REGISTRY_ALLOWLIST');
      expect(auth.body).not.toContain('dec-secret-pw');
      const node = await api(
        fleet,
        'POST',
        `/node/${HOST}/container/docker/image/pull?fromImage=${encodeURIComponent(`${bait.address}/x`)}`,
        { key },
      );
      expect(node.status).toBe(403);
      const viaCli = await cli.run(HOST, key, ['pull', `${bait.address}/x`]);
      expect(viaCli.stderr).toContain("'docker:host'");
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(bait.hits).toEqual([]);
      // The control: the same pull with docker:host does reach the listener, so an engine that dialled it would have been seen.
      await engineCall('POST', `/v1.41/images/create?fromImage=${encodeURIComponent(`${bait.address}/x`)}&tag=latest`, {
        key: fleet.adminKey,
      });
      expect(bait.hits.length).toBeGreaterThan(0);
      bait.hits.length = 0;
    },
  );

  attack(
    'a tmpfs mount carrying a mount flag such as bind (docker run --tmpfs, the raw body, a tmpfs mount): refused, nothing created',
    async () => {
      const key = operator();
      const viaCli = await runDetached(key, 'dec-tmpfs-cli', ['--tmpfs', '/x:rbind']);
      expect(viaCli.stderr).toContain("'docker:host'");
      const bodies = {
        'dec-tmpfs-map': { Image: BUSYBOX_IMAGE, HostConfig: { Tmpfs: { '/x': 'size=1m,bind' } } },
        'dec-tmpfs-mount': {
          Image: BUSYBOX_IMAGE,
          HostConfig: { Mounts: [{ Type: 'tmpfs', Target: '/x', TmpfsOptions: { Options: [['rbind']] } }] },
        },
      };
      for (const [name, body] of Object.entries(bodies)) {
        expectRefused(
          await engineCall('POST', `/v1.41/containers/create?name=${name}`, {
            key,
            contentType: 'application/json',
            body: JSON.stringify(body),
          }),
          403,
          'tmpfs',
        );
      }
      expect((await containerNames(HOST)).filter((name) => name.startsWith('dec-tmpfs'))).toEqual([]);
    },
  );

  attack(
    'a zero-padded or otherwise non-canonical API version prefix (the audited path no longer names the endpoint): 400, nothing created',
    async () => {
      const key = operator();
      const body = JSON.stringify({ Image: BUSYBOX_IMAGE, Cmd: ['sleep', '600'] });
      for (const prefix of ['/v0001.41', '/v1.041', '/v01.41', '/v1', '/v1.41.0']) {
        expectRefused(
          await engineCall('POST', `${prefix}/containers/create?name=dec-pad`, { key, contentType: 'application/json', body }),
          400,
          prefix,
        );
        expectRefused(await engineCall('GET', `${prefix}/containers/json`, { key }), 400);
      }
      expect(await containerNames(HOST)).not.toContain('dec-pad');
    },
  );

  attack('a double slash before the version (/docker//v1.41/…): a clean 404 with the error envelope, not a 500', async () => {
    const key = operator();
    const list = await engineCall('GET', '//v1.41/containers/json', { key });
    expectRefused(list, 404);
    const create = await engineCall('POST', '//v1.41/containers/create?name=dec-slash', {
      key,
      contentType: 'application/json',
      body: JSON.stringify({ Image: BUSYBOX_IMAGE }),
    });
    expectRefused(create, 404);
    expect(await containerNames(HOST)).not.toContain('dec-slash');
    // Before, `new URL('//v1.41/…')` read the version as a host name and threw: a 500 and a stack in the gateway's log.
    const lines = fleet
      .log('gateway')
      .split('\n')
      .filter((line) => line.includes('//v1.41'));
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.filter((line) => (JSON.parse(line) as { level: number }).level >= 50 || line.includes('Invalid URL'))).toEqual([]);
  });
});

describe('what an operator may still do through the real docker CLI', () => {
  let registry: Registry;

  beforeAll(async () => {
    registry = await startRegistry({ dir: `${scratch}/registry`, port: await freePort() });
  });

  afterAll(async () => {
    if (registry) await stopRegistry(registry);
  });

  test('run -d with -e, -p, a named volume, --restart, --memory and a user network; volume and bridge network create; exec; pull from the allowed registry', async () => {
    const key = operator();
    const host = 'web-02';
    expect(await cli.run(host, key, ['network', 'create', 'legit-net'])).toMatchObject({ code: 0 });
    expect(await cli.run(host, key, ['volume', 'create', 'legit-vol'])).toMatchObject({ code: 0 });
    expect(
      await cli.run(host, key, ['volume', 'create', '--opt', 'type=tmpfs', '--opt', 'device=tmpfs', '--opt', 'o=size=1m', 'legit-tmpfs']),
    ).toMatchObject({ code: 0 });
    const args = [
      'run',
      '-d',
      '--name',
      'legit',
      '-e',
      'STAGE=legit',
      '-p',
      '127.0.0.1::80',
      '-v',
      'legit-vol:/data',
      '--restart',
      'unless-stopped',
      '--memory',
      '64m',
      '--network',
      'legit-net',
    ];
    const run = await cli.run(host, key, [
      ...args,
      '--security-opt',
      'no-new-privileges',
      '--cap-drop',
      'ALL',
      '--tmpfs',
      '/scratch',
      BUSYBOX_IMAGE,
      'sleep',
      '600',
    ]);
    expect(run).toMatchObject({ code: 0 });
    const info = await fleet.docker(host).getContainer('legit').inspect();
    expect(info.State.Running).toBe(true);
    expect(info.Config.Env).toContain('STAGE=legit');
    expect(info.HostConfig).toMatchObject({
      Memory: 64 * 1024 * 1024,
      NetworkMode: 'legit-net',
      RestartPolicy: { Name: 'unless-stopped' },
      Privileged: false,
    });
    expect(info.HostConfig.PortBindings).toEqual({ '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] });
    expect(info.Mounts).toEqual([expect.objectContaining({ Type: 'volume', Name: 'legit-vol', Destination: '/data' })]);
    expect((info.HostConfig.MaskedPaths ?? []).length).toBeGreaterThan(0);
    const exec = await cli.run(host, key, ['exec', 'legit', 'sh', '-c', 'echo $STAGE > /data/proof; cat /data/proof']);
    expect(exec).toMatchObject({ code: 0, stdout: 'legit\n' });
    const network = await fleet.docker(host).getNetwork('legit-net').inspect();
    expect(network.Driver).toBe('bridge');
    expect((await fleet.docker(host).getVolume('legit-tmpfs').inspect()).Options).toEqual({ type: 'tmpfs', device: 'tmpfs', o: 'size=1m' });

    const remote = `${registry.address}/legit-busybox:v1`;
    await fleet
      .docker('web-01')
      .getImage(BUSYBOX_IMAGE)
      .tag({ repo: `${registry.address}/legit-busybox`, tag: 'v1' });
    const push = await cli.run('web-01', key, ['push', remote]);
    expect(push).toMatchObject({ code: 0 });
    const pull = await cli.run(host, key, ['pull', remote]);
    expect(pull).toMatchObject({ code: 0 });
    expect((await fleet.docker(host).getImage(remote).inspect()).RepoTags).toContain(remote);
    expect(await hostReachingContainers(host)).toEqual([]);
    await fleet.docker(host).getContainer('legit').remove({ force: true });
  });
});
