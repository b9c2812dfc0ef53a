/**
 * Every operation in the contract is mounted once, from the contract: the node operations start a job of that very
 * operation (called with the operation's own request example; the job client records what it is asked), and every
 * operation enforces exactly the permission its `x-permission` declares, over real HTTP.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Router } from 'express';
import { mintToken } from '@fleet/api-keys';
import { ERROR_REASONS, isErrorReason } from '@fleet/contracts/error-reasons';
import { loadContract, OPERATIONS, type OperationSpec } from '@fleet/contracts/operations';
import type { Permission } from '@fleet/contracts/permissions';
import { gatewayHandlers, type GatewayDeps } from './app';
import { PreAuthLimit } from './auth/pre-auth-limit';
import type { JobClient, JobRequest } from './jobs/client';
import { mountNodeOperations } from './routes/node/mount';
import { expressPath } from './routes/node/route-order';
import type { Transfers } from './routes/node/transfers';
import { mountGatewayOperations } from './routes/operation-table';
import { serveTestApp, stubGatewayDeps } from './test-app';

/**
 * Besides the contract's roles, one role per permission holding every permission but that one (`lacks:job:read`):
 * a key that lacks exactly the permission an operation declares, even one every real role holds.
 */
jest.mock('@fleet/contracts/permissions', () => {
  const actual = jest.requireActual<typeof import('@fleet/contracts/permissions')>('@fleet/contracts/permissions');
  const lacking = Object.fromEntries(
    actual.PERMISSIONS.map((permission) => [`lacks:${permission}`, actual.PERMISSIONS.filter((held) => held !== permission)]),
  );
  const roles = { ...actual.ROLES, ...lacking };
  return { ...actual, ROLES: roles, isRole: (value: string) => Object.hasOwn(roles, value) };
});

const SECRET = 'contract-walk-secret-0123456789abcdef';
const SAMPLE_PATH_VALUES: Record<string, string> = {
  target: '_all',
  id: 'app',
  image: 'busybox',
  name: 'data',
  network: 'backend',
  hostname: 'web-01',
  job_id: '550e8400-e29b-41d4-a716-446655440000',
  jti: 'a-key-id',
  revision: '1',
};
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

const keyOf = (role: string) => mintToken({ secret: SECRET, role: role as never, ttlSeconds: 60 });

describe('every operation in the contract', () => {
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
      const { url: served, server } = await serveTestApp({ jwtSecret: SECRET, jobs, transfers, ...gatewayBackEnds() });
      url = served;
      close = () => server.close();
    });

    afterAll(() => close());

    it.each(OPERATIONS.filter((op) => op.nodeTargeted).map((op) => [op.name, op]))(
      '%s starts a job of that operation from its request example',
      async (_name, op) => {
        const res = await call(url, op, keyOf('admin'));
        const text = await res.text();
        expect({ status: res.status < 400 ? 'answered' : text }).toEqual({ status: 'answered' });
        expect(started.at(-1)?.operation).toBe(op.name);
      },
    );

    const guarded = OPERATIONS.filter((op) => op.permission !== 'none');
    it.each(guarded.map((op) => [op.name, op.permission, op]))(
      '%s refuses a key lacking %s (403 permission_denied) and answers one holding it',
      async (_name, permission, op) => {
        const refused = await call(url, op, keyOf(`lacks:${permission}`));
        const body = (await refused.json()) as { reason?: string; details?: string };
        expect({ status: refused.status, reason: body.reason }).toEqual({ status: 403, reason: 'permission_denied' });
        expect(body.details).toContain(`requires permission '${permission}'`);
        // An example may reach the host (a registry outside the allowlist): the key then needs the host permission too.
        const allowed = await call(
          url,
          op,
          keyOf(narrowestRoleHolding([permission as Permission, ...(op.hostPermission ? [op.hostPermission] : [])])),
        );
        const answer = await allowed.text();
        // Answered by the operation's own handler: not refused, and not the 404 or 405 of a route that is not there.
        expect({ refused: [401, 403, 405].includes(allowed.status) || answer.includes('no route') ? answer : false }).toEqual({
          refused: false,
        });
      },
    );

    it.each(OPERATIONS.filter((op) => op.permission === 'none').map((op) => [op.name, op]))(
      '%s needs no permission: a key of no role but viewer is answered',
      async (_name, op) => {
        const res = await call(url, op, keyOf('viewer'));
        await res.body?.cancel();
        expect([401, 403, 405]).not.toContain(res.status);
      },
    );

    // Node operations are validated on their own routes, other operations by the validation router (app.ts): both answer alike.
    it.each([
      ['DELETE', '/node/web-01/container/docker/system/ping', 405, 'GET'],
      ['OPTIONS', '/node/web-01/container/docker/system/ping', 405, 'GET'],
      ['PUT', '/node/web-01/container/docker', 405, 'GET, POST'],
      ['DELETE', '/job', 405, 'GET'],
      ['OPTIONS', '/job', 405, 'GET'],
    ])('%s %s is a %i naming the methods the contract declares', async (method, path, status, allow) => {
      const res = await fetch(`${url}${path}`, {
        method,
        headers: { authorization: `Bearer ${mintToken({ secret: SECRET, role: 'admin', ttlSeconds: 60 })}` },
      });
      expect({ status: res.status, allow: res.headers.get('allow'), body: await res.json() }).toEqual({
        status,
        allow,
        body: { error: 'method not allowed', details: `${method} method not allowed`, code: 405, reason: 'method_not_allowed' },
      });
    });

    it.each([
      ['/node/web-01/container/docker?limit=abc', 'query.limit must be integer'],
      ['/node/web-01/container/docker?bogus=1', "query.bogus Unknown query parameter 'bogus'"],
      ['/node/web-01/container/docker?timeout=1e400', 'query.timeout must be a finite number'],
      ['/job?limit=1000', 'query.limit must be <= 200'],
    ])('GET %s is refused before any job starts: %s', async (path, details) => {
      const before = started.length;
      const res = await fetch(`${url}${path}`, {
        headers: { authorization: `Bearer ${mintToken({ secret: SECRET, role: 'admin', ttlSeconds: 60 })}` },
      });
      expect({ status: res.status, body: await res.json() }).toEqual({
        status: 400,
        body: { error: 'invalid request', details, code: 400, reason: 'validation_failed' },
      });
      expect(started.length).toBe(before);
    });

    it('answers a route the contract does not know with 404 not_found', async () => {
      const res = await fetch(`${url}/no-such-route`, { headers: { authorization: `Bearer ${keyOf('admin')}` } });
      const body = { error: 'not found', details: 'no route GET /no-such-route', code: 404, reason: 'not_found' };
      expect({ status: res.status, body: await res.json() }).toEqual({ status: 404, body });
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

/**
 * Every operation mounted exactly once: the node operations and the gateway's table, mounted on one router as the
 * gateway mounts them, give one route per method and path of the contract, and no other.
 */
describe('the routes mounted from the contract', () => {
  it('are one per operation of the contract, each at its own method and path', () => {
    const router = Router();
    mountNodeOperations(router, {} as JobClient, {} as Transfers, () => [], { registries: [] });
    const deps = stubGatewayDeps({ jwtSecret: SECRET, ...gatewayBackEnds() });
    mountGatewayOperations(
      router,
      gatewayHandlers(deps, new PreAuthLimit(0), 3600),
      () => true,
      () => [],
    );
    const mounted = router.stack.map((layer) => {
      const route = layer.route as unknown as { path: string; methods: Record<string, boolean> };
      return `${Object.keys(route.methods).join(',')} ${route.path}`;
    });
    const declared = OPERATIONS.map((op) => `${op.method} ${expressPath(op.path)}`);
    expect([...mounted].sort()).toEqual([...declared].sort());
  });
});

describe('the error reasons', () => {
  it('are the contract enum, each declared once with an error status, a title and a meaning', () => {
    const document = loadContract() as { components: { schemas: { ErrorReason: { enum: string[] } } } };
    expect(Object.keys(ERROR_REASONS).sort()).toEqual([...document.components.schemas.ErrorReason.enum].sort());
    expect(document.components.schemas.ErrorReason.enum.every(isErrorReason)).toBe(true);
    for (const [reason, entry] of Object.entries(ERROR_REASONS)) {
      expect({
        reason,
        status: entry.status >= 400 && entry.status <= 599,
        title: entry.title.length > 0,
        meaning: entry.meaning.length > 0,
      }).toEqual({
        reason,
        status: true,
        title: true,
        meaning: true,
      });
    }
  });

  it('are each listed in README "Error reasons" with their status', () => {
    const readme = readFileSync(path.resolve(__dirname, '..', '..', '..', 'README.md'), 'utf8');
    const listed = Object.entries(ERROR_REASONS).filter(([reason, entry]) => readme.includes(`| \`${reason}\` | ${entry.status} |`));
    expect(listed.map(([reason]) => reason)).toEqual(Object.keys(ERROR_REASONS));
  });
});

/** The narrowest of the contract's own roles holding every one of `permissions`. */
function narrowestRoleHolding(permissions: Permission[]): string {
  const roles = jest.requireActual<typeof import('@fleet/contracts/permissions')>('@fleet/contracts/permissions').ROLES;
  return (['viewer', 'operator', 'admin'] as const).find((role) =>
    permissions.every((held) => (roles[role] as readonly Permission[]).includes(held)),
  ) as string;
}

/** One call of the operation with `key`, from the contract's own examples; a stream is left as soon as it answers. */
async function call(url: string, op: OperationSpec, key: string): Promise<Response> {
  const mediaType = op.uploadMediaType ?? 'application/json';
  const example = paths[op.path][op.method].requestBody?.content[mediaType]?.example;
  const body = example === undefined ? undefined : op.uploadMediaType ? String(example) : JSON.stringify(example);
  const concretePath = op.path.replace(/\{(\w+)\}/g, (_m, param: string) =>
    param === 'target' && op.downloadMediaType ? SINGLE_HOST : (SAMPLE_PATH_VALUES[param] ?? 'x'),
  );
  const res = await fetch(`${url}${concretePath}${requiredQuery(op)}`, {
    method: op.method.toUpperCase(),
    headers: { authorization: `Bearer ${key}`, 'content-type': mediaType },
    body,
  });
  if (res.headers.get('content-type')?.startsWith('text/event-stream')) {
    await res.body?.cancel();
    return new Response(JSON.stringify({}), { status: res.status });
  }
  return res;
}

/** The gateway's own back ends, as empty as each operation allows: the routing and the permission are under test. */
function gatewayBackEnds(): Partial<GatewayDeps> {
  const noop = () => undefined;
  return {
    store: { list: async () => ({ jobs: [] }), getRecord: async () => undefined } as never,
    feed: { watchRecords: () => noop, watchAllRows: () => noop } as never,
    roster: {
      list: () => [],
      get: () => undefined,
      onChange: () => noop,
      labelsOf: () => undefined,
      accept: async () => ({ labels: {} }),
      setLabels: async () => undefined,
      withdraw: async () => undefined,
    } as never,
    identities: {
      issueJoinToken: async () => ({ token: 'fjt_x' }),
      remove: async () => ({ removed: true }),
      join: async () => ({ joined: true }),
    } as never,
    audit: { record: noop, list: async () => ({ items: [] }), full: false } as never,
    mintedKeys: { list: async () => [], record: async () => undefined } as never,
    revocations: { isRevoked: () => false, revoke: async () => undefined } as never,
  };
}

/** Required query parameters, from their own examples in the contract. */
function requiredQuery(op: OperationSpec): string {
  const required = (paths[op.path][op.method].parameters ?? []).map(resolved).filter((param) => param.in === 'query' && param.required);
  // An array example (`names`) is sent as its repeated parameter, as a client sends it.
  const query = new URLSearchParams(
    required.flatMap((param) =>
      (Array.isArray(param.example) ? param.example : [param.example ?? '']).map((value) => [param.name, String(value)]),
    ),
  );
  return required.length ? `?${query}` : '';
}
