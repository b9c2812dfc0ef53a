import { ENGINE_ENDPOINTS, engineRequestHostAccess, matchEngineEndpoint, needsWholeBody } from './engine-proxy';

const match = (method: string, path: string) => matchEngineEndpoint(method, path);

describe('the Engine API proxy endpoint map (x-engine-proxy)', () => {
  it('reads every endpoint from the contract with a permission and a kind', () => {
    expect(ENGINE_ENDPOINTS.length).toBeGreaterThan(40);
    for (const endpoint of ENGINE_ENDPOINTS) expect(['docker:read', 'docker:read-data', 'docker:write', 'docker:exec']).toContain(endpoint.permission);
  });

  it('maps _ping without a version prefix and every call with or without one', () => {
    expect(match('HEAD', '/_ping')).toMatchObject({ permission: 'docker:read', kind: 'plain' });
    expect(match('GET', '/v1.41/containers/json')).toMatchObject({ path: '/containers/json', permission: 'docker:read' });
    expect(match('GET', '/containers/json')).toMatchObject({ path: '/containers/json' });
  });

  it('names reads, changes, exec and hijacks as the issue asks', () => {
    expect(match('POST', '/v1.41/containers/create')).toMatchObject({ permission: 'docker:write', hostAccess: 'container-create' });
    expect(match('DELETE', '/v1.41/containers/abc')).toMatchObject({ permission: 'docker:write' });
    expect(match('POST', '/v1.41/exec/abc/start')).toMatchObject({ permission: 'docker:exec', kind: 'hijack' });
    expect(match('POST', '/v1.41/containers/abc/attach')).toMatchObject({ permission: 'docker:exec', kind: 'hijack' });
    expect(match('GET', '/v1.41/containers/abc/logs')).toMatchObject({ permission: 'docker:read', kind: 'stream' });
    expect(match('POST', '/v1.41/images/create')).toMatchObject({ kind: 'stream', secretHeader: 'X-Registry-Auth' });
  });

  it('lets an image reference hold slashes and a registry port', () => {
    expect(match('GET', '/v1.41/images/127.0.0.1:5000/team/app:v1/json')).toMatchObject({ path: '/images/{name+}/json' });
    expect(match('DELETE', '/v1.41/images/127.0.0.1:5000/team/app:v1')).toMatchObject({ path: '/images/{name+}', permission: 'docker:write' });
  });

  it('matches nothing it does not map: swarm, build, plugins, another method', () => {
    expect(match('POST', '/v1.41/swarm/init')).toBeUndefined();
    expect(match('POST', '/v1.41/build')).toBeUndefined();
    expect(match('GET', '/v1.41/plugins')).toBeUndefined();
    expect(match('PATCH', '/v1.41/containers/abc/json')).toBeUndefined();
  });

  it('refuses paths the engine would read as another endpoint: dot segments, encoded slashes, empty segments', () => {
    expect(match('GET', '/v1.41/containers/abc/../../swarm/json')).toBeUndefined();
    expect(match('GET', '/v1.41/containers/%2e%2e/json')).toBeUndefined();
    expect(match('POST', '/v1.41/containers/abc%2Fkill/wait')).toBeUndefined();
    expect(match('GET', '/v1.41/containers//json')).toBeUndefined();
    expect(match('GET', '/v1.41/containers/%zz/json')).toBeUndefined();
  });

  it('finds host access in create bodies and in an import the engine would fetch from a URL', () => {
    const create = match('POST', '/containers/create')!;
    expect(needsWholeBody(create)).toBe(true);
    const none = new URLSearchParams();
    expect(engineRequestHostAccess(create, none, { Image: 'x', HostConfig: { Privileged: true } })).not.toEqual([]);
    expect(engineRequestHostAccess(create, none, { Image: 'x', HostConfig: { Binds: ['/:/host'] } })[0].hostPath).toBe('/');
    expect(engineRequestHostAccess(create, none, { Image: 'x', HostConfig: { Binds: ['data:/data'] } })).toEqual([]);
    const volume = match('POST', '/volumes/create')!;
    expect(engineRequestHostAccess(volume, none, { Driver: 'local', DriverOpts: { type: 'none', o: 'bind', device: '/etc' } })).not.toEqual([]);
    const image = match('POST', '/images/create')!;
    expect(needsWholeBody(image)).toBe(false);
    expect(engineRequestHostAccess(image, new URLSearchParams('fromSrc=-&repo=x'), undefined)).toEqual([]);
    expect(engineRequestHostAccess(image, new URLSearchParams('fromSrc=-&fromSrc=http://169.254.169.254/'), undefined)).toHaveLength(1);
    expect(engineRequestHostAccess(image, new URLSearchParams('fromImage=busybox'), undefined)).toEqual([]);
  });
});
