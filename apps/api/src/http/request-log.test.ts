/**
 * What the audit hook records of a call through the real express app (stub back ends): the operation
 * matched and its parameters, the reason of a refusal, whether the call may be summarised; and the gate
 * that refuses changes while the trail is full.
 */
import { mintToken } from '@fleet/api-keys';
import type { Role } from '@fleet/contracts/permissions';
import type { AuditEntry } from '../audit/log';
import { serveTestApp } from '../test-app';

const SECRET = 'observe-secret-0123456789abcdef-0123';

describe('the audit hook', () => {
  let url: string;
  let close: () => void;
  let full = false;
  const recorded: Array<{ entry: AuditEntry; changedNothing: boolean }> = [];

  beforeAll(async () => {
    const { url: served, server } = await serveTestApp({
      jwtSecret: SECRET,
      // A job that never answers: its caller hangs up first.
      jobs: { start: () => new Promise(() => undefined), streamBufferBytes: 1024 } as never,
      roster: { list: () => [], get: () => undefined } as never,
      audit: {
        record: (entry: AuditEntry, changedNothing = false) => recorded.push({ entry, changedNothing }),
        get full() {
          return full;
        },
      } as never,
      revocations: { isRevoked: () => false, revoke: async () => undefined } as never,
    });
    url = served;
    close = () => server.close();
  });

  afterAll(() => close());

  beforeEach(() => {
    recorded.length = 0;
    full = false;
  });

  async function call(
    method: string,
    path: string,
    role: Role = 'admin',
  ): Promise<{ status: number; body: Record<string, unknown>; audited: { entry: AuditEntry; changedNothing: boolean } }> {
    const key = mintToken({ secret: SECRET, role, subject: `as-${role}`, ttlSeconds: 600 });
    const res = await fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: method === 'GET' ? undefined : '{}',
    });
    const body = (await res.json()) as Record<string, unknown>;
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(recorded).toHaveLength(1);
    return { status: res.status, body, audited: recorded[0] };
  }

  it('records a refused change with its operation, parameters and reason; refused before anything ran, it may be summarised', async () => {
    const { status, audited } = await call('POST', '/agent/web-01/drain', 'viewer');
    expect(status).toBe(403);
    expect(audited.entry).toMatchObject({
      kind: 'call',
      operation: 'agent.drain',
      params: { hostname: 'web-01' },
      reason: 'Forbidden - Insufficient permissions',
      status: 403,
    });
    expect(audited.changedNothing).toBe(true);
  });

  it('records a node operation refused by its permission under its operationId and target', async () => {
    const { status, audited } = await call('DELETE', '/node/role%3Aweb/container/docker/abc', 'viewer');
    expect(status).toBe(403);
    expect(audited.entry).toMatchObject({
      operation: 'docker.container.remove',
      params: { target: 'role:web', id: 'abc' },
      target: 'role:web',
    });
  });

  it('records a read as one that changed nothing, whatever its answer', async () => {
    const { status, audited } = await call('GET', '/agent/web-01');
    expect(status).toBe(404);
    expect(audited.entry).toMatchObject({ operation: 'agent.get', params: { hostname: 'web-01' } });
    expect(audited.changedNothing).toBe(true);
  });

  it('records an unknown path without an operation, cut, with the reason', async () => {
    const { status, audited } = await call('GET', `/${'x'.repeat(3000)}`);
    expect(status).toBe(404);
    expect(audited.entry.operation).toBeUndefined();
    expect(audited.entry.reason).toBe('not found');
    expect(audited.entry.path).toHaveLength(512);
    expect(audited.changedNothing).toBe(true);
  });

  it('refuses a change with 503 while the trail is full, and still answers reads and revocations', async () => {
    full = true;
    const drain = await call('POST', '/agent/web-01/drain');
    expect(drain.status).toBe(503);
    expect(drain.body).toMatchObject({ error: 'audit full', code: 503, details: expect.stringContaining('FLEET_AUDIT_MAX_MESSAGES') });
    expect(drain.audited.entry).toMatchObject({ status: 503, reason: 'audit full' });
    recorded.length = 0;
    expect((await call('GET', '/agent/web-01')).status).toBe(404);
    recorded.length = 0;
    expect((await call('DELETE', '/token/3b241101-e2bb-4255-8caf-4136c566a962')).status).not.toBe(503);
  });

  it('records a call whose client hung up before the answer, in full, as 499', async () => {
    const key = mintToken({ secret: SECRET, role: 'operator', subject: 'hangs-up', ttlSeconds: 600 });
    const hangUp = new AbortController();
    const sent = fetch(`${url}/node/web-01/container/docker`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ image: 'busybox' }),
      signal: hangUp.signal,
    }).catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(recorded).toHaveLength(0);
    hangUp.abort();
    await sent;
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(recorded).toHaveLength(1);
    expect(recorded[0].entry).toMatchObject({
      caller: 'hangs-up',
      operation: 'docker.container.create',
      params: { target: 'web-01' },
      status: 499,
      reason: 'the client closed the connection before the answer',
    });
    expect(recorded[0].changedNothing).toBe(false);
  });
});
