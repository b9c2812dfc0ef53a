/**
 * Every node operation in the contract has a gateway route that starts a job of that very operation, called here
 * with the operation's own request example; the routing is the real one, the job client records what it is asked.
 */
import { mintToken } from '@fleet/api-keys';
import { loadContract, OPERATIONS, type OperationSpec } from '@fleet/contracts/operations';
import type { JobClient, JobRequest } from './jobs/client';
import type { Transfers } from './routes/node/transfers';
import { serveTestApp } from './test-app';

const SECRET = 'contract-walk-secret-0123456789abcdef';
const SAMPLE_PATH_VALUES: Record<string, string> = { target: '_all', id: 'app', image: 'busybox', name: 'data', network: 'backend' };
/** An operation answering with a file runs on one host; a named one is as good as any here. */
const SINGLE_HOST = 'web-01';

interface Parameter {
  name: string;
  in: string;
  required?: boolean;
  example?: unknown;
  $ref?: string;
}
const contract = loadContract() as {
  paths: Record<string, Record<string, { parameters?: Parameter[]; requestBody?: { content: Record<string, { example?: unknown }> } }>>;
  components: { parameters: Record<string, Parameter> };
};
const paths = contract.paths;

/** A shared parameter (`$ref: '#/components/parameters/ArchivePath'`) as itself. */
function resolved(param: Parameter): Parameter {
  return param.$ref ? contract.components.parameters[param.$ref.split('/').pop() as string] : param;
}

describe('every node operation in the contract', () => {
  describe('gateway routes', () => {
    const started: JobRequest[] = [];
    let url: string;
    let close: () => void;

    beforeAll(async () => {
      // A job client that records what it is asked to start; the routing under test is the real one.
      const jobs = {
        start: async (request: JobRequest) => {
          started.push(request);
          const record = { job_id: request.jobId ?? '550e8400-e29b-41d4-a716-446655440000', hosts: ['web-01'] };
          request.onCreated?.(record as never);
          return { record, rows: Promise.resolve([{ hostname: 'web-01', status: 'ok', changed: false }]), cancel: () => undefined };
        },
        previewTarget: () => ['web-01'],
      } as unknown as JobClient;
      // An upload store that counts the body, and a host whose file is already complete: the routing is what is under test.
      const transfers: Transfers = {
        uploads: {
          receive: async (jobId: string, body: AsyncIterable<Buffer>) => {
            let bytes = 0;
            for await (const chunk of body) bytes += chunk.length;
            return { jobId, bytes, chunkSubject: 'unused' };
          },
          offer: () => undefined,
          remove: async () => undefined,
        } as never,
        openDownload: () =>
          ({
            started: Promise.resolve({ hostname: 'web-01', headers: {} }),
            finished: Promise.resolve(),
            expect: () => undefined,
            pipeTo: () => undefined,
            close: () => undefined,
          }) as never,
      };
      const { url: served, server } = await serveTestApp({ jwtSecret: SECRET, jobs, transfers });
      url = served;
      close = () => server.close();
    });

    afterAll(() => close());

    it.each(OPERATIONS.filter((op) => op.nodeTargeted).map((op) => [op.name, op]))('%s starts a job of that operation from its request example', async (_name, op) => {
      const mediaType = op.uploadMediaType ?? 'application/json';
      const example = paths[op.path][op.method].requestBody?.content[mediaType]?.example;
      const body = example === undefined ? undefined : op.uploadMediaType ? String(example) : JSON.stringify(example);
      const concretePath = op.path.replace(/\{(\w+)\}/g, (_m, param: string) => (param === 'target' && op.downloadMediaType ? SINGLE_HOST : (SAMPLE_PATH_VALUES[param] ?? 'x')));
      const res = await fetch(`${url}${concretePath}${requiredQuery(op)}`, {
        method: op.method.toUpperCase(),
        headers: { authorization: `Bearer ${mintToken({ secret: SECRET, role: 'admin', ttlSeconds: 60 })}`, 'content-type': mediaType },
        body,
      });
      const text = await res.text();
      expect({ status: res.status < 400 ? 'answered' : text }).toEqual({ status: 'answered' });
      expect(started.at(-1)?.operation).toBe(op.name);
    });

    // Node operations are validated on their own routes, other operations by the validation router (app.ts): both answer alike.
    it.each([
      ['DELETE', '/node/web-01/container/docker/system/ping', 405, 'GET'],
      ['OPTIONS', '/node/web-01/container/docker/system/ping', 405, 'GET'],
      ['PUT', '/node/web-01/container/docker', 405, 'GET, POST'],
      ['DELETE', '/job', 405, 'GET'],
      ['OPTIONS', '/job', 405, 'GET'],
    ])('%s %s is a %i naming the methods the contract declares', async (method, path, status, allow) => {
      const res = await fetch(`${url}${path}`, { method, headers: { authorization: `Bearer ${mintToken({ secret: SECRET, role: 'admin', ttlSeconds: 60 })}` } });
      expect({ status: res.status, allow: res.headers.get('allow'), body: await res.json() }).toEqual({ status, allow, body: { error: 'method not allowed', details: `${method} method not allowed`, code: 405, reason: 'method_not_allowed' } });
    });

    it.each([
      ['/node/web-01/container/docker?limit=abc', 'query.limit must be integer'],
      ['/node/web-01/container/docker?bogus=1', "query.bogus Unknown query parameter 'bogus'"],
      ['/node/web-01/container/docker?timeout=1e400', 'query.timeout must be a finite number'],
      ['/job?limit=1000', 'query.limit must be <= 200'],
    ])('GET %s is refused before any job starts: %s', async (path, details) => {
      const before = started.length;
      const res = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${mintToken({ secret: SECRET, role: 'admin', ttlSeconds: 60 })}` } });
      expect({ status: res.status, body: await res.json() }).toEqual({ status: 400, body: { error: 'invalid request', details, code: 400, reason: 'validation_failed' } });
      expect(started.length).toBe(before);
    });

    it('routes a path in any case, with a trailing slash, as express matches it', async () => {
      const key = mintToken({ secret: SECRET, role: 'admin', ttlSeconds: 60 });
      for (const path of ['/NODE/web-01/container/docker/system/ping', '/node/web-01/container/docker/system/ping/']) {
        const res = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${key}` } });
        expect({ path, status: res.status }).toEqual({ path, status: 200 });
        expect(started.at(-1)?.operation).toBe('docker.system.ping');
      }
      expect((await fetch(`${url}/HEALTH`)).status).toBe(200);
    });
  });

});

/** Required query parameters, from their own examples in the contract. */
function requiredQuery(op: OperationSpec): string {
  const required = (paths[op.path][op.method].parameters ?? []).map(resolved).filter((param) => param.in === 'query' && param.required);
  // An array example (`names`) is sent as its repeated parameter, as a client sends it.
  const query = new URLSearchParams(required.flatMap((param) => (Array.isArray(param.example) ? param.example : [param.example ?? '']).map((value) => [param.name, String(value)])));
  return required.length ? `?${query}` : '';
}
