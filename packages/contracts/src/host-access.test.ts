import { generateKeyPairSync } from 'node:crypto';
import { decodeEngineJson } from './engine-json';
import { ENGINE_MODELS, type EngineModelName } from './engine-models';
import captured from './fixtures/docker-cli-28.2-bodies.json';
import {
  DEFAULT_REGISTRIES,
  engineBodyHostAccess,
  HOST_REACHING_OPERATIONS,
  hostPathsOutside,
  isRegistryAllowed,
  nodeOperationHostAccess,
  registryOf,
  serverAddressRegistry,
} from './host-access';
import { hostGrantRefusal, paramsDigest, signHostGrant } from './host-grant';
import { OPERATIONS } from './operations';

const policy = { registries: DEFAULT_REGISTRIES };
const reasons = (access: { reason: string }[]) => access.map((item) => item.reason);
const create = (HostConfig: Record<string, unknown>, rest: Record<string, unknown> = {}) =>
  engineBodyHostAccess('ContainerCreate', { Image: 'busybox', HostConfig, ...rest }, policy);

describe('host access on the Engine models (an allowlist)', () => {
  it('names host-path binds and mounts, the engine socket above all, but not named or anonymous volumes', () => {
    const access = create({
      Binds: ['/:/host', '/var/run/docker.sock:/var/run/docker.sock', 'data:/data', 'a.b-c_d:/x:ro', './rel:/rel', '/anonymous'],
      Mounts: [
        { Type: 'bind', Source: '/etc', Target: '/e' },
        { Type: 'volume', Source: 'v', Target: '/v' },
        { Type: 'tmpfs', Target: '/t' },
      ],
    });
    expect(access.map((item) => item.hostPath)).toEqual(['/', '/var/run/docker.sock', './rel', '/etc']);
    expect(access[1].reason).toContain('the engine socket');
    expect(access[0].reason).toContain("HostConfig.Binds[0] bind of host path '/'");
  });

  it('names every host-level field set to a value, naming the field', () => {
    const access = reasons(
      create({
        NetworkMode: 'host',
        PidMode: 'container:abc',
        IpcMode: 'host',
        UTSMode: 'host',
        UsernsMode: 'host',
        CgroupnsMode: 'host',
        Privileged: true,
        Devices: [{ PathOnHost: '/dev/sda' }],
        DeviceRequests: [{ Count: -1 }],
        DeviceCgroupRules: ['c 1:3 mr'],
        CapAdd: ['SYS_ADMIN'],
        SecurityOpt: ['no-new-privileges:true', 'seccomp=unconfined'],
        VolumesFrom: ['other'],
        MaskedPaths: [],
        ReadonlyPaths: [],
        Sysctls: { 'net.ipv4.ip_forward': '1' },
        CgroupParent: '/',
        Cgroup: 'host',
        Runtime: 'nvidia',
        Links: ['a:b'],
        LogConfig: { Type: 'syslog', Config: { 'syslog-address': 'tcp://10.0.0.1:514' } },
        OomScoreAdj: -1000,
        OomKillDisable: true,
        BlkioDeviceReadBps: [{ Path: '/dev/sda', Rate: 1 }],
      }),
    );
    expect(access).toHaveLength(24);
    for (const field of ['NetworkMode', 'PidMode', 'MaskedPaths', 'ReadonlyPaths', 'Sysctls', 'CgroupParent', 'LogConfig.Type'])
      expect(access.join('\n')).toContain(`HostConfig.${field}`);
    expect(access.join('\n')).not.toContain('no-new-privileges');
  });

  it('judges values, not presence: zero values are not host-level (MaskedPaths: only null is)', () => {
    expect(
      create({
        Privileged: false,
        CapAdd: null,
        Binds: null,
        Devices: [],
        CgroupParent: '',
        Sysctls: {},
        MaskedPaths: null,
        ReadonlyPaths: null,
        LogConfig: { Type: '', Config: {} },
      }),
    ).toEqual([]);
    expect(
      create({
        NetworkMode: 'usernet',
        IpcMode: 'private',
        SecurityOpt: ['no-new-privileges'],
        CapDrop: ['ALL'],
        Tmpfs: { '/t': '' },
        Memory: 1 << 26,
        RestartPolicy: { Name: 'always' },
      }),
    ).toEqual([]);
    expect(engineBodyHostAccess('ContainerCreate', { Image: 'x' }, policy)).toEqual([]);
  });

  it('names container: and host namespaces and driver options of a network the container joins', () => {
    const access = reasons(
      create(
        { NetworkMode: 'container:abc' },
        {
          NetworkingConfig: {
            EndpointsConfig: { host: {}, usernet: { DriverOpts: { 'com.docker.network.endpoint.sysctls': 'x' } }, ok: { Aliases: ['a'] } },
          },
        },
      ),
    );
    expect(access).toHaveLength(3);
  });

  it('names privileged exec and host devices added by an update', () => {
    expect(reasons(engineBodyHostAccess('ExecCreate', { Cmd: ['sh'], Privileged: true }, policy))).toEqual([
      expect.stringContaining('Privileged'),
    ]);
    expect(engineBodyHostAccess('ExecCreate', { Cmd: ['sh'], Privileged: false, User: '0' }, policy)).toEqual([]);
    expect(reasons(engineBodyHostAccess('ContainerUpdate', { Devices: [{ PathOnHost: '/dev/mem' }], Memory: 1 }, policy))).toHaveLength(1);
  });

  it('allows only tmpfs options on a local volume: bind, overlay, nfs, cifs, devices and plugins are host-level', () => {
    const volume = (body: Record<string, unknown>) => engineBodyHostAccess('VolumeCreate', body, policy);
    expect(volume({ DriverOpts: { type: 'none', o: 'bind', device: '/etc' } })[0]).toMatchObject({ hostPath: '/etc' });
    expect(volume({ Driver: 'local', DriverOpts: { type: 'ext4', device: '/dev/sda1' } })[0]).toMatchObject({ hostPath: '/dev/sda1' });
    expect(volume({ DriverOpts: { type: 'overlay', o: 'lowerdir=/etc,upperdir=/tmp/u,workdir=/tmp/w', device: 'overlay' } })).toHaveLength(
      1,
    );
    expect(volume({ DriverOpts: { type: 'nfs', o: 'addr=10.0.0.1', device: ':/export' } })).toHaveLength(1);
    expect(volume({ DriverOpts: { type: 'cifs', o: 'addr=10.0.0.1', device: '//10.0.0.1/share' } })).toHaveLength(1);
    expect(volume({ DriverOpts: { type: 'tmpfs', o: 'bind', device: '/etc' } })).toHaveLength(1);
    expect(reasons(volume({ DriverOpts: { type: 'cifs', o: 'username=u,password=s3cret', device: '//h/s' } })).join()).not.toContain(
      's3cret',
    );
    expect(volume({ DriverOpts: { type: 'tmpfs', device: 'tmpfs', o: 'size=1m,uid=1000' } })).toEqual([]);
    expect(volume({ Driver: 'vieux/sshfs' })).toHaveLength(1);
    expect(volume({ Name: 'plain', Driver: 'local', DriverOpts: {}, Labels: { a: 'b' } })).toEqual([]);
    const mount = {
      Type: 'volume',
      Target: '/v',
      VolumeOptions: { DriverConfig: { Name: 'local', Options: { type: 'none', o: 'bind', device: '/root' } } },
    };
    expect(create({ Mounts: [mount] })).toHaveLength(1);
    expect(create({ Mounts: [{ Type: 'volume', Source: '/etc', Target: '/v' }] })).toHaveLength(1);
    expect(
      create({
        Mounts: [
          { Type: 'volume', Source: 'data', Target: '/v' },
          { Type: 'volume', Target: '/anonymous' },
        ],
      }),
    ).toEqual([]);
  });

  it('allows tmpfs mounts with tmpfs options only, never a mount flag such as bind', () => {
    expect(create({ Tmpfs: { '/run': 'size=64m,mode=1777,noexec', '/t': '' } })).toEqual([]);
    expect(create({ Tmpfs: { '/x': 'bind' } })).toHaveLength(1);
    expect(create({ Tmpfs: { '/x': 'size=1m,rbind' } })).toHaveLength(1);
    expect(
      create({
        Mounts: [{ Type: 'tmpfs', Target: '/t', TmpfsOptions: { SizeBytes: 1024, Mode: 0o1777, Options: [['noexec'], ['uid', '1000']] } }],
      }),
    ).toEqual([]);
    expect(create({ Mounts: [{ Type: 'tmpfs', Target: '/t', TmpfsOptions: { Options: [['bind']] } }] })).toHaveLength(1);
  });

  it('allows bridge networks only, with options that name no host interface', () => {
    const network = (body: Record<string, unknown>) => engineBodyHostAccess('NetworkCreate', { Name: 'n', ...body }, policy);
    expect(
      network({
        Driver: 'bridge',
        Options: { 'com.docker.network.driver.mtu': '1400' },
        IPAM: { Driver: 'default', Config: [{ Subnet: '10.9.0.0/24' }], Options: {} },
      }),
    ).toEqual([]);
    expect(network({ Driver: 'macvlan', Options: { parent: 'eth0' } })).toHaveLength(2);
    expect(network({ Driver: 'ipvlan' })).toHaveLength(1);
    expect(network({ Driver: 'bridge', Options: { 'com.docker.network.bridge.name': 'eth0' } })).toHaveLength(1);
    expect(network({ ConfigFrom: { Network: 'admin-macvlan' } })).toHaveLength(1);
  });

  it.each(captured.bodies.map((body) => [body.command, body] as const))(
    'judges what the docker CLI 28.2 sends: %s',
    (_command, { model, body, hostLevel }) => {
      const decoded = decodeEngineJson(body, ENGINE_MODELS[model as EngineModelName]);
      expect(engineBodyHostAccess(model as EngineModelName, decoded, policy).length > 0).toBe(hostLevel);
    },
  );
});

describe('registries', () => {
  it('reads the registry of a reference as docker does', () => {
    expect(registryOf('busybox')).toBe('docker.io');
    expect(registryOf('library/busybox:1')).toBe('docker.io');
    expect(registryOf('127.0.0.1:5000/x')).toBe('127.0.0.1:5000');
    expect(registryOf('localhost/x')).toBe('localhost');
    expect(registryOf('evil.example/x/y')).toBe('evil.example');
    expect(registryOf('Evil/x')).toBe('evil');
    expect(serverAddressRegistry('')).toBe('docker.io');
    expect(serverAddressRegistry('https://Registry.Example:5000/v1/')).toBe('registry.example:5000');
  });

  it('admits a listed registry, a listed host on any port, and nothing else', () => {
    const list = ['docker.io', '127.0.0.1', 'registry.example:5000'];
    expect(isRegistryAllowed('docker.io', list)).toBe(true);
    expect(isRegistryAllowed('127.0.0.1:41234', list)).toBe(true);
    expect(isRegistryAllowed('registry.example:5000', list)).toBe(true);
    expect(isRegistryAllowed('registry.example:5001', list)).toBe(false);
    expect(isRegistryAllowed('registry.example', list)).toBe(false);
    expect(isRegistryAllowed('169.254.169.254', list)).toBe(false);
    expect(reasons(engineBodyHostAccess('Auth', { username: 'u', password: 'secret', serveraddress: '10.0.0.1:5000' }, policy))).toEqual([
      expect.not.stringContaining('secret'),
    ]);
    expect(engineBodyHostAccess('Auth', { username: 'u', password: 'p' }, policy)).toEqual([]);
  });
});

describe('host access of node operations', () => {
  it('maps the contract parameters of container, volume and network create and of registry operations', () => {
    expect(
      reasons(nodeOperationHostAccess('docker.container.create', { body: { image: 'x', binds: ['/:/host'], network: 'host' } }, policy)),
    ).toHaveLength(2);
    expect(
      nodeOperationHostAccess('docker.container.create', { body: { image: 'x', binds: ['data:/data'], network: 'backend' } }, policy),
    ).toEqual([]);
    expect(
      reasons(nodeOperationHostAccess('docker.container.create', { body: { image: 'x', network: 'container:abc' } }, policy)),
    ).toHaveLength(1);
    expect(
      reasons(
        nodeOperationHostAccess('docker.volume.create', { body: { driver_opts: { type: 'none', o: 'bind', device: '/etc' } } }, policy),
      ),
    ).toHaveLength(1);
    expect(
      reasons(
        nodeOperationHostAccess(
          'docker.volume.create',
          { body: { driver_opts: { type: 'nfs', o: 'addr=10.0.0.1', device: ':/x' } } },
          policy,
        ),
      ),
    ).toHaveLength(1);
    expect(reasons(nodeOperationHostAccess('docker.network.create', { body: { name: 'n', driver: 'macvlan' } }, policy))).toHaveLength(1);
    expect(nodeOperationHostAccess('docker.network.create', { body: { name: 'n', driver: 'bridge' } }, policy)).toEqual([]);
    expect(reasons(nodeOperationHostAccess('docker.image.pull', { fromImage: '10.0.0.1:5000/x' }, policy))).toHaveLength(1);
    expect(nodeOperationHostAccess('docker.image.pull', { fromImage: 'busybox' }, policy)).toEqual([]);
    expect(reasons(nodeOperationHostAccess('docker.image.push', { image: 'evil.example/x' }, policy))).toHaveLength(1);
    expect(nodeOperationHostAccess('docker.system.ping', { body: { binds: ['/:/x'] } }, policy)).toEqual([]);
  });

  it('are exactly the operations the contract marks with x-host-permission', () => {
    const marked = OPERATIONS.filter((op) => op.hostPermission).map((op) => op.name);
    expect([...HOST_REACHING_OPERATIONS].sort()).toEqual(marked.sort());
    for (const op of OPERATIONS.filter((candidate) => candidate.hostPermission)) expect(op.hostPermission).toBe('docker:host');
  });

  it('checks host paths against an allowlist of prefixes, resolving ..', () => {
    const access = [
      { reason: 'a', hostPath: '/srv/app' },
      { reason: 'b', hostPath: '/srv/../etc' },
      { reason: 'c', hostPath: '/srvx' },
      { reason: 'net' },
    ];
    expect(hostPathsOutside(access, ['/srv', '/data/'])).toEqual(['/srv/../etc', '/srvx']);
    expect(hostPathsOutside([{ reason: 'r', hostPath: 'rel' }], ['/'])).toEqual(['rel']);
  });
});

describe('host-access grants', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const other = generateKeyPairSync('ed25519');
  const params = { body: { image: 'x', binds: ['/srv:/srv'] } };
  const job = { job_id: 'j1', operation: 'docker.container.create', hostname: 'web-01', params };
  const grant = signHostGrant(
    {
      job_id: 'j1',
      operation: job.operation,
      hosts: ['web-01', 'web-02'],
      params_sha256: paramsDigest(params),
      expires_at: Date.now() + 60_000,
    },
    privateKey,
  );

  it('covers the signed job, on a host it names, with the same parameters in any key order', () => {
    expect(hostGrantRefusal(grant, job, publicKey)).toBeUndefined();
    expect(hostGrantRefusal(grant, { ...job, params: { body: { binds: ['/srv:/srv'], image: 'x' } } }, publicKey)).toBeUndefined();
  });

  it('refuses anything else', () => {
    expect(hostGrantRefusal(undefined, job, publicKey)).toContain('no host-access grant');
    expect(hostGrantRefusal(grant, job, other.publicKey)).toContain('does not verify');
    expect(hostGrantRefusal({ ...grant, hosts: ['db-01'] }, job, publicKey)).toContain('does not verify');
    expect(hostGrantRefusal(grant, { ...job, hostname: 'db-01' }, publicKey)).toContain('does not name this host');
    expect(hostGrantRefusal(grant, { ...job, job_id: 'j2' }, publicKey)).toContain('another job');
    expect(hostGrantRefusal(grant, { ...job, params: { body: { image: 'x', binds: ['/:/srv'] } } }, publicKey)).toContain('parameters');
    expect(hostGrantRefusal(grant, job, publicKey, grant.expires_at + 1)).toContain('expired');
    expect(hostGrantRefusal({ ...grant, signature: 'not base64!' }, job, publicKey)).toContain('does not verify');
  });

  it('signs caller_host with the rest: added to a grant without it, or taken off one with it, the grant no longer verifies', () => {
    expect(hostGrantRefusal({ ...grant, caller_host: true }, job, publicKey)).toContain('does not verify');
    const callerHost = signHostGrant(
      {
        job_id: 'j1',
        operation: job.operation,
        hosts: ['web-01'],
        params_sha256: paramsDigest(params),
        expires_at: Date.now() + 60_000,
        caller_host: true,
      },
      privateKey,
    );
    expect(hostGrantRefusal(callerHost, job, publicKey)).toBeUndefined();
    const { caller_host: _dropped, ...without } = callerHost;
    expect(hostGrantRefusal(without, job, publicKey)).toContain('does not verify');
    expect(hostGrantRefusal({ ...callerHost, caller_host: 'yes' }, job, publicKey)).toContain('no host-access grant');
  });
});
