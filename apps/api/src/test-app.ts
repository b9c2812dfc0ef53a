import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import type { JobRecord } from '@fleet/contracts/protocol';
import { ApiError } from './api-error';
import { createApp, type GatewayDeps } from './app';

/**
 * The gateway's back ends as stubs, for the unit tests and the bench: a caller passes the ones its
 * calls reach; the others are empty stand-ins, the audit records nothing, no key is revoked, and
 * the log is silent.
 */
export function stubGatewayDeps(deps: Partial<GatewayDeps> & Pick<GatewayDeps, 'jwtSecret'>): GatewayDeps {
  return {
    bodyLimit: '256kb',
    rateLimitPerMinute: 0,
    jobs: {} as never,
    transfers: {} as never,
    store: {} as never,
    idempotency: {} as never,
    feed: {} as never,
    identities: {} as never,
    roster: {} as never,
    audit: { record: () => undefined } as never,
    revocations: { isRevoked: () => false } as never,
    mintedKeys: {} as never,
    stacks: {} as never,
    log: pino({ level: 'silent' }),
    ...deps,
  };
}

/** For the unit tests: the real express app over stubGatewayDeps(deps), served on a free loopback port. */
export async function serveTestApp(deps: Partial<GatewayDeps> & Pick<GatewayDeps, 'jwtSecret'>): Promise<{ url: string; server: Server }> {
  const app = createApp(stubGatewayDeps(deps));
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

/** A job record as the gateway stores one: on `_all`, created `ageMs` ago, with a 30 s deadline. */
export function jobRecordOf(operation: string, hosts: string[], ageMs = 0): JobRecord {
  const created = Date.now() - ageMs;
  return {
    job_id: crypto.randomUUID(),
    operation: operation as JobRecord['operation'],
    target: '_all',
    hosts,
    caller: 'test',
    created_at: new Date(created).toISOString(),
    deadline: new Date(created + 30_000).toISOString(),
  };
}

/** The HTTP status a call's ApiError carries, or 200 when it throws none. */
export function statusOf(run: () => unknown): number {
  try {
    run();
    return 200;
  } catch (err) {
    if (err instanceof ApiError) return err.status;
    throw err;
  }
}
