import { generateKeyPairSync } from 'node:crypto';
import { containerCreateHostAccess, HOST_REACHING_OPERATIONS, hostPathsOutside, nodeOperationHostAccess, volumeCreateHostAccess } from './host-access';
import { hostGrantRefusal, paramsDigest, signHostGrant } from './host-grant';
import { OPERATIONS } from './operations';

const reasons = (access: { reason: string }[]) => access.map((item) => item.reason);

describe('host access on the Engine API shapes', () => {
  it('names host-path binds and mounts, the engine socket above all, but not named volumes', () => {
    const access = containerCreateHostAccess({
      Image: 'busybox',
      HostConfig: {
        Binds: ['/:/host', '/var/run/docker.sock:/var/run/docker.sock', 'data:/data', 'a.b-c_d:/x:ro', './rel:/rel'],
        Mounts: [{ Type: 'bind', Source: '/etc', Target: '/e' }, { Type: 'volume', Source: 'v', Target: '/v' }, { Type: 'tmpfs', Target: '/t' }],
      },
    });
    expect(access.map((item) => item.hostPath)).toEqual(['/', '/var/run/docker.sock', './rel', '/etc']);
    expect(access[1].reason).toContain('the engine socket');
  });

  it('names host namespaces, privileged, devices, capabilities and loosening security options', () => {
    const access = reasons(
      containerCreateHostAccess({
        HostConfig: {
          NetworkMode: 'host',
          PidMode: 'host',
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
        },
      }),
    );
    expect(access).toHaveLength(13);
    expect(access.join('\n')).toContain('seccomp=unconfined');
    expect(access.join('\n')).not.toContain('no-new-privileges');
  });

  it('passes what stays inside the container', () => {
    expect(containerCreateHostAccess({ HostConfig: { NetworkMode: 'bridge', PidMode: 'container:x', Binds: ['data:/data'], SecurityOpt: ['no-new-privileges'], CapAdd: [] } })).toEqual([]);
    expect(containerCreateHostAccess({})).toEqual([]);
  });

  it('names bind-type and device-mounting local volumes, also inside a mount', () => {
    expect(volumeCreateHostAccess({ DriverOpts: { type: 'none', o: 'bind', device: '/etc' } })[0]).toMatchObject({ hostPath: '/etc' });
    expect(volumeCreateHostAccess({ Driver: 'local', DriverOpts: { type: 'ext4', device: '/dev/sda1' } })[0]).toMatchObject({ hostPath: '/dev/sda1' });
    expect(reasons(volumeCreateHostAccess({ DriverOpts: { o: 'rbind' } }))).toHaveLength(1);
    expect(volumeCreateHostAccess({ DriverOpts: { type: 'tmpfs', device: 'tmpfs', o: 'size=1m' } })).toEqual([]);
    expect(volumeCreateHostAccess({ Driver: 'vieux/sshfs', DriverOpts: { device: '/x' } })).toEqual([]);
    const mount = { Type: 'volume', Target: '/v', VolumeOptions: { DriverConfig: { Name: 'local', Options: { type: 'none', o: 'bind', device: '/root' } } } };
    expect(containerCreateHostAccess({ HostConfig: { Mounts: [mount] } })[0]).toMatchObject({ hostPath: '/root' });
  });
});

describe('host access of node operations', () => {
  it('maps the contract parameters of container and volume create', () => {
    expect(reasons(nodeOperationHostAccess('docker.container.create', { body: { image: 'x', binds: ['/:/host'], network: 'host' } }))).toHaveLength(2);
    expect(nodeOperationHostAccess('docker.container.create', { body: { image: 'x', binds: ['data:/data'], network: 'backend' } })).toEqual([]);
    expect(reasons(nodeOperationHostAccess('docker.volume.create', { body: { driver_opts: { type: 'none', o: 'bind', device: '/etc' } } }))).toHaveLength(1);
    expect(nodeOperationHostAccess('docker.system.ping', { body: { binds: ['/:/x'] } })).toEqual([]);
  });

  it('are exactly the operations the contract marks with x-host-permission', () => {
    const marked = OPERATIONS.filter((op) => op.hostPermission).map((op) => op.name);
    expect([...HOST_REACHING_OPERATIONS].sort()).toEqual(marked.sort());
    for (const op of OPERATIONS.filter((candidate) => candidate.hostPermission)) expect(op.hostPermission).toBe('docker:host');
  });

  it('checks host paths against an allowlist of prefixes, resolving ..', () => {
    const access = [{ reason: 'a', hostPath: '/srv/app' }, { reason: 'b', hostPath: '/srv/../etc' }, { reason: 'c', hostPath: '/srvx' }, { reason: 'net' }];
    expect(hostPathsOutside(access, ['/srv', '/data/'])).toEqual(['/srv/../etc', '/srvx']);
    expect(hostPathsOutside([{ reason: 'r', hostPath: 'rel' }], ['/'])).toEqual(['rel']);
  });
});

describe('host-access grants', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const other = generateKeyPairSync('ed25519');
  const params = { body: { image: 'x', binds: ['/srv:/srv'] } };
  const job = { job_id: 'j1', operation: 'docker.container.create', hostname: 'web-01', params };
  const grant = signHostGrant({ job_id: 'j1', operation: job.operation, hosts: ['web-01', 'web-02'], params_sha256: paramsDigest(params), expires_at: Date.now() + 60_000 }, privateKey);

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
});
