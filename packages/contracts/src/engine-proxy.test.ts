import {
  ENGINE_ENDPOINTS,
  engineRequestHeaders,
  EngineRequestRefusal,
  judgeEngineRequest,
  locateEngineRequest,
  matchEngineEndpoint,
  proxyGrantParams,
} from './engine-proxy';
import { DEFAULT_REGISTRIES } from './host-access';

const match = (method: string, path: string) => matchEngineEndpoint(method, path);

describe('the Engine API proxy endpoint map (x-engine-proxy)', () => {
  it('reads every endpoint from the contract with a permission and a kind', () => {
    expect(ENGINE_ENDPOINTS.length).toBeGreaterThan(40);
    for (const endpoint of ENGINE_ENDPOINTS)
      expect(['docker:read', 'docker:read-data', 'docker:write', 'docker:exec']).toContain(endpoint.permission);
  });

  it('maps _ping without a version prefix and every call with or without one', () => {
    expect(match('HEAD', '/_ping')).toMatchObject({ permission: 'docker:read', kind: 'plain' });
    expect(match('GET', '/v1.41/containers/json')).toMatchObject({ path: '/containers/json', permission: 'docker:read' });
    expect(match('GET', '/containers/json')).toMatchObject({ path: '/containers/json' });
  });

  it('names reads, changes, exec and hijacks as the issue asks', () => {
    expect(match('POST', '/v1.41/containers/create')).toMatchObject({ permission: 'docker:write', body: 'ContainerCreate' });
    expect(match('DELETE', '/v1.41/containers/abc')).toMatchObject({ permission: 'docker:write' });
    expect(match('POST', '/v1.41/exec/abc/start')).toMatchObject({ permission: 'docker:exec', kind: 'hijack' });
    expect(match('POST', '/v1.41/containers/abc/attach')).toMatchObject({ permission: 'docker:exec', kind: 'hijack' });
    expect(match('GET', '/v1.41/containers/abc/logs')).toMatchObject({ permission: 'docker:read', kind: 'stream' });
    expect(match('POST', '/v1.41/images/create')).toMatchObject({ kind: 'stream', secretHeader: 'X-Registry-Auth' });
  });

  it('lets an image reference hold slashes and a registry port', () => {
    expect(match('GET', '/v1.41/images/127.0.0.1:5000/team/app:v1/json')).toMatchObject({ path: '/images/{name+}/json' });
    expect(match('DELETE', '/v1.41/images/127.0.0.1:5000/team/app:v1')).toMatchObject({
      path: '/images/{name+}',
      permission: 'docker:write',
    });
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

  it('refuses a version prefix spelled any way but /v<major>.<minor> without leading zeros (400), and a double slash (404)', () => {
    const status = (path: string) => {
      try {
        locateEngineRequest('GET', path);
        return 200;
      } catch (err) {
        return (err as EngineRequestRefusal).status;
      }
    };
    expect(status('/v1.41/containers/json')).toBe(200);
    expect(status('/v1.47/containers/json')).toBe(200);
    for (const padded of [
      '/v0001.41/containers/json',
      '/v1.041/containers/json',
      '/v01.41/containers/json',
      '/v1/containers/json',
      '/v1.41.0/containers/json',
      '/v./containers/json',
      '/v/containers/json',
    ]) {
      expect({ padded, status: status(padded) }).toEqual({ padded, status: 400 });
    }
    expect(status('//v1.41/containers/json')).toBe(404);
    expect(status('/v1.41//containers/json')).toBe(404);
  });
});

describe('judging a proxied request', () => {
  const policy = { registries: [...DEFAULT_REGISTRIES, '127.0.0.1'] };
  const judge = (method: string, url: string, body: { contentType?: string; inline?: string; streamed?: boolean } = {}) =>
    judgeEngineRequest(
      locateEngineRequest(method, url),
      {
        contentType: body.contentType,
        inline: body.inline === undefined ? undefined : Buffer.from(body.inline),
        streamed: body.streamed ?? false,
      },
      policy,
    );
  const refusal = (...args: Parameters<typeof judge>) => {
    try {
      judge(...args);
    } catch (err) {
      if (err instanceof EngineRequestRefusal) return err;
      throw err;
    }
    throw new Error('not refused');
  };

  it('forwards the decoded body serialised again, as JSON, never the bytes or content type sent', () => {
    const judged = judge('POST', '/v1.41/containers/create?name=a', {
      contentType: 'text/plain',
      inline: '{ "Image" : "busybox",\n "Cmd":"sh" }',
    });
    expect(judged.body?.toString()).toBe('{"Image":"busybox","Cmd":["sh"]}');
    expect(judged.contentType).toBe('application/json');
    expect(judged.access).toEqual([]);
    expect(
      engineRequestHeaders(judged, {
        'content-type': 'application/x-www-form-urlencoded',
        'content-length': '999',
        authorization: 'Bearer k',
        'user-agent': 'Docker-Client/28.2.2',
      }),
    ).toEqual({
      'user-agent': 'Docker-Client/28.2.2',
      'content-type': 'application/json',
      'content-length': String(judged.body?.length),
    });
  });

  it('refuses bodies the engine could read otherwise: case variants, duplicates, unknown fields (400 naming the field)', () => {
    expect(refusal('POST', '/containers/create', { inline: '{"Image":"x","hostconfig":{"privileged":true}}' })).toMatchObject({
      status: 400,
      details: expect.stringContaining('hostconfig'),
    });
    expect(refusal('POST', '/containers/create', { inline: '{"HostConfig":{},"HostConfig":{"Binds":["/:/h"]}}' }).details).toContain(
      'duplicate',
    );
    expect(refusal('POST', '/volumes/create', { inline: '{"Name":"v","driveropts":{"type":"none"}}' }).details).toContain('driveropts');
    expect(refusal('POST', '/containers/create', { inline: 'not json' }).status).toBe(400);
    // The engine's create wrapper also reads HostConfig's fields at the top level: unknown to the model, so refused.
    expect(refusal('POST', '/containers/create', { inline: '{"Image":"x","Privileged":true,"Binds":["/:/host"]}' }).details).toContain(
      'Privileged',
    );
  });

  it('refuses form bodies everywhere, bodies where none is taken, and a streamed body where a JSON one is', () => {
    expect(
      refusal('POST', '/images/create?fromImage=busybox', { contentType: 'application/x-www-form-urlencoded', streamed: true }),
    ).toMatchObject({ status: 400, details: expect.stringContaining('x-www-form-urlencoded') });
    expect(refusal('POST', '/containers/x/start', { contentType: 'Multipart/Form-Data; boundary=x', streamed: true }).status).toBe(400);
    expect(refusal('POST', '/containers/x/start', { inline: '{"HostConfig":{"Privileged":true}}' }).details).toContain('takes no body');
    expect(refusal('POST', '/containers/create', { streamed: true }).status).toBe(400);
    expect(refusal('POST', '/images/create?fromImage=busybox', { streamed: true }).details).toContain('fromSrc=-');
    expect(judge('POST', '/images/create?fromSrc=-&repo=x', { streamed: true, contentType: 'text/plain' })).toMatchObject({
      contentType: 'application/x-tar',
      access: [],
    });
    expect(judge('POST', '/containers/x/start')).toMatchObject({ access: [] });
    expect(judge('POST', '/containers/x/start').contentType).toBeUndefined();
  });

  it('judges the query the engine reads: one value of each judged parameter, forwarded serialised again', () => {
    expect(refusal('POST', '/images/create?fromSrc=-&fromSrc=http://169.254.169.254/').details).toContain("'fromSrc' given more than once");
    expect(refusal('POST', '/images/create?fromImage=busybox&fromImage=10.0.0.1:5000/x').status).toBe(400);
    expect(judge('POST', '/images/create?fromImage=busybox&tag=latest').path).toBe('/images/create?fromImage=busybox&tag=latest');
    expect(judge('GET', '/v1.41/containers/json?filters=%7B%22a%22%3A1%7D&x=a%3Bb').path).toBe(
      '/v1.41/containers/json?filters=%7B%22a%22%3A1%7D&x=a%3Bb',
    );
    expect(judge('POST', '/commit?container=a&changes=ENV+A%3D1&changes=CMD+x').path).toBe(
      '/commit?container=a&changes=ENV+A%3D1&changes=CMD+x',
    );
  });

  it('finds host access in an import from a URL and in registries outside the allowlist', () => {
    expect(judge('POST', '/images/create?fromSrc=http://169.254.169.254/').access).toHaveLength(1);
    expect(judge('POST', '/images/create?fromImage=busybox').access).toEqual([]);
    expect(judge('POST', '/images/create?fromImage=127.0.0.1:5000/busybox').access).toEqual([]);
    expect(judge('POST', '/images/create?fromImage=10.0.0.1:5000/busybox').access).toHaveLength(1);
    expect(judge('POST', '/v1.41/images/evil.example/x/push?tag=v1').access).toHaveLength(1);
    expect(judge('GET', '/v1.41/distribution/evil.example/x/json').access).toHaveLength(1);
    expect(judge('POST', '/v1.41/images/127.0.0.1:5000/x/push').access).toEqual([]);
    expect(judge('POST', '/auth', { inline: '{"username":"u","password":"p","serveraddress":"10.0.0.1:5000"}' }).access).toHaveLength(1);
  });

  it('has the grant cover exactly the path and the body bytes forwarded', () => {
    const judged = judge('POST', '/containers/create', { inline: '{"Image":"x","HostConfig":{"Privileged":true}}' });
    expect(judged.access).toHaveLength(1);
    const params = proxyGrantParams(judged);
    expect(params).toEqual({ path: '/containers/create', body_sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(proxyGrantParams({ ...judged, body: Buffer.from('{"Image":"x","HostConfig":{"Privileged":true} }') })).not.toEqual(params);
  });
});
