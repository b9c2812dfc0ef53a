import { createFleetClient } from './client';
import { ConflictError, FleetApiError, FleetConnectionError, RateLimitedError } from './errors';
import type { JsonRequest } from './transport';

/** A client whose fetch records each request and answers `reply`. */
function recording(reply: () => Response) {
  const requests: Request[] = [];
  const client = createFleetClient({
    url: 'http://gateway.test/',
    apiKey: 'k1',
    fetch: async (input: RequestInfo | URL, init?: RequestInit) => {
      requests.push(input instanceof Request && init === undefined ? input : new Request(input, init));
      return reply();
    },
  });
  return { client, requests };
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });

const ROWS = { job_id: '550e8400-e29b-41d4-a716-446655440000', results: [] };

describe('requests', () => {
  it("sends an array query parameter repeated (image save's names), a JSON one as JSON", async () => {
    const { client, requests } = recording(
      () => new Response('tar', { status: 200, headers: { 'content-type': 'application/x-tar', 'x-fleet-hostname': 'web-01' } }),
    );
    const file = await client.node('web-01').images.save(['local/a:1', 'local/b:2']);
    expect(requests[0].url).toBe('http://gateway.test/node/web-01/container/docker/image/save?names=local%2Fa%3A1&names=local%2Fb%3A2');
    expect(file.hostname).toBe('web-01');
    expect(await new Response(file.body).text()).toBe('tar');
  });

  it('streams a file body as it is, with its media type (image load)', async () => {
    const { client, requests } = recording(() => json(202, ROWS));
    await client.node('_all').images.load(new TextEncoder().encode('a tar'));
    expect(requests[0].headers.get('content-type')).toBe('application/x-tar');
    expect(await requests[0].text()).toBe('a tar');
  });

  it('builds the path from the operation, keeps selectors readable, encodes slashes, and sends the key', async () => {
    const { client, requests } = recording(() => json(202, ROWS));
    await client.node('role:web,zone:eu').images.remove('local/busybox:latest', { force: true }, { timeout: 5 });
    expect(requests[0].method).toBe('DELETE');
    expect(requests[0].url).toBe(
      'http://gateway.test/node/role:web,zone:eu/container/docker/image/local%2Fbusybox:latest?timeout=5&force=true',
    );
    expect(requests[0].headers.get('authorization')).toBe('Bearer k1');
  });

  it('sends JSON query parameters as JSON, async as a flag, and bodies as JSON', async () => {
    const { client, requests } = recording(() => json(202, { job_id: ROWS.job_id, status: 'pending' }));
    await client.node('_all').submit('docker.container.list', { all: true, filters: '{"label":["a=b"]}' });
    expect(new URL(requests[0].url).searchParams.get('filters')).toBe('{"label":["a=b"]}');
    expect(new URL(requests[0].url).searchParams.get('async')).toBe('true');
    await client.node('web-01').containers.exec('app', { cmd: ['ls', '/'] }, { headers: { 'x-trace': '1' } });
    expect(requests[1].url).toBe('http://gateway.test/node/web-01/container/docker/app/exec');
    expect(requests[1].headers.get('content-type')).toBe('application/json');
    expect(requests[1].headers.get('x-trace')).toBe('1');
    expect(await requests[1].json()).toEqual({ cmd: ['ls', '/'] });
  });
});

describe('stacks', () => {
  it('calls each /stack operation on its path and method, the body as JSON and the rollback revision in the query', async () => {
    const { client, requests } = recording(() => json(202, { name: 'web', revision: 2, job_id: ROWS.job_id }));
    const body = { compose: 'services:\n  web:\n    image: nginx:1.27\n', target: 'role:web', rollout: { batch: '1' } };
    await client.stacks.deploy('web', body);
    await client.stacks.diff('web', body);
    await client.stacks.rollback('web', 1);
    await client.stacks.revision('web', 1);
    await client.stacks.get('web');
    await client.stacks.list();
    await client.stacks.remove('web');
    expect(requests.map((request) => `${request.method} ${request.url}`)).toEqual([
      'PUT http://gateway.test/stack/web',
      'POST http://gateway.test/stack/web/diff',
      'POST http://gateway.test/stack/web/rollback?to=1',
      'GET http://gateway.test/stack/web/revisions/1',
      'GET http://gateway.test/stack/web',
      'GET http://gateway.test/stack',
      'DELETE http://gateway.test/stack/web',
    ]);
    expect(await requests[0].json()).toEqual(body);
  });
});

describe('errors', () => {
  it('throws the class of the status with the body fields', async () => {
    const { client } = recording(() =>
      json(409, { error: 'Conflict', details: 'name in use', code: 409, reason: 'conflict', job_id: ROWS.job_id }),
    );
    const err = await client
      .node('web-01')
      .containers.create({ image: 'x' })
      .catch((caught: unknown) => caught);
    expect(err).toBeInstanceOf(ConflictError);
    expect(err).toBeInstanceOf(FleetApiError);
    expect(err).toMatchObject({
      status: 409,
      error: 'Conflict',
      details: 'name in use',
      code: 409,
      reason: 'conflict',
      jobId: ROWS.job_id,
      message: 'Conflict: name in use',
    });
  });

  it('429 is a RateLimitedError with Retry-After', async () => {
    const { client } = recording(() => json(429, { error: 'Too Many Requests', details: 'slow down', code: 429 }, { 'retry-after': '12' }));
    const err = await client.agents.list().catch((caught: unknown) => caught);
    expect(err).toBeInstanceOf(RateLimitedError);
    expect((err as RateLimitedError).retryAfterSeconds).toBe(12);
  });

  it('a body that is not the contract error still makes a FleetApiError', async () => {
    const { client } = recording(() => new Response('upstream broke', { status: 502, headers: { 'content-type': 'text/plain' } }));
    const err = await client.agents.list().catch((caught: unknown) => caught);
    expect(err).toMatchObject({ status: 502, error: 'upstream broke', body: 'upstream broke' });
  });
});

describe('a transport of its own', () => {
  it('carries every plain JSON call, with the key, the JSON body and the answer parsed; no fetch is made', async () => {
    const sent: JsonRequest[] = [];
    const transport = async (request: JsonRequest) => {
      sent.push(request);
      return { status: 200, headers: { 'content-type': 'application/json' }, text: JSON.stringify(ROWS) };
    };
    const fetchMade = jest.fn();
    const client = createFleetClient({ url: 'http://gateway.test', apiKey: 'k1', transport, fetch: fetchMade });
    expect(await client.node('role:web').containers.exec('app', { cmd: ['true'] }, { timeout: 5 })).toEqual(ROWS);
    await client.agents.label('web-01', { role: 'web' });
    expect(sent.map(({ method, url }) => `${method} ${url}`)).toEqual([
      'POST http://gateway.test/node/role:web/container/docker/app/exec?timeout=5',
      'PUT http://gateway.test/agent/web-01/labels',
    ]);
    expect(sent[0].headers).toEqual({ authorization: 'Bearer k1', 'content-type': 'application/json' });
    expect(JSON.parse(sent[1].body as string)).toEqual({ labels: { role: 'web' } });
    expect(fetchMade).not.toHaveBeenCalled();
  });

  it('turns its answers into the same typed errors, and a failed connection into a FleetConnectionError', async () => {
    const answers = [
      {
        status: 429,
        headers: { 'content-type': 'application/json', 'retry-after': '3' },
        text: JSON.stringify({ error: 'Too Many Requests', details: 'slow down', code: 429 }),
      },
    ];
    const transport = async () => {
      const answer = answers.shift();
      if (!answer) throw new TypeError('fetch failed', { cause: new Error('connect ECONNREFUSED 127.0.0.1:1') });
      return answer;
    };
    const client = createFleetClient({ url: 'http://127.0.0.1:1', transport });
    const limited = await client.jobs.list().catch((caught: unknown) => caught);
    expect(limited).toBeInstanceOf(RateLimitedError);
    expect((limited as RateLimitedError).retryAfterSeconds).toBe(3);
    const refused = await client.jobs.list().catch((caught: unknown) => caught);
    expect(refused).toBeInstanceOf(FleetConnectionError);
    expect((refused as Error).message).toBe(
      'cannot reach the gateway at http://127.0.0.1:1: fetch failed: connect ECONNREFUSED 127.0.0.1:1',
    );
  });
});

describe('raw', () => {
  it('returns any status, JSON parsed only when the response says JSON', async () => {
    const { client } = recording(() => new Response('{"looks":"json"}', { status: 404, headers: { 'content-type': 'text/plain' } }));
    expect(await client.raw('GET', '/whatever?x=1')).toEqual({
      status: 404,
      body: '{"looks":"json"}',
      headers: { 'content-type': 'text/plain' },
    });
  });
});
