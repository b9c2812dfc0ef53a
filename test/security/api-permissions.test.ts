/**
 * Issue 19, item 1: the gateway's own operations enforce the permission their contract entry
 * declares, mounted from it rather than restated by hand. An operator key (every docker
 * permission, none of `agent:write`, `token:admin`, `audit:read`) calls each gateway operation
 * whose permission it lacks, with the operation's own request example: each is refused with 403
 * `permission_denied`, and no bucket those operations write (enrolments, drains, join tokens,
 * identities, minted keys, revocations) changed.
 */
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { loadContract, OPERATIONS, type OperationSpec } from '@fleet/contracts/operations';
import { ROLES, type Permission } from '@fleet/contracts/permissions';
import {
  DRAINS_BUCKET,
  ENROLLMENTS_BUCKET,
  IDENTITIES_BUCKET,
  JOIN_TOKENS_BUCKET,
  MINTED_KEYS_BUCKET,
  REVOKED_BUCKET,
} from '@fleet/contracts/protocol';
import { attack } from '../support/attacks';
import { api } from '../support/http';
import { connectToFleetNats } from '../support/nats';
import { useTestFleet } from '../support/suite';

jest.setTimeout(120_000);
const fleet = useTestFleet({ agents: [{ hostname: 'web-01', labels: { role: 'web', zone: 'eu.west' } }] });
const WRITTEN_BUCKETS = [ENROLLMENTS_BUCKET, DRAINS_BUCKET, JOIN_TOKENS_BUCKET, IDENTITIES_BUCKET, MINTED_KEYS_BUCKET, REVOKED_BUCKET];
const contract = loadContract() as {
  paths: Record<string, Record<string, { requestBody?: { content: Record<string, { example?: unknown }> } }>>;
};
let nc: NatsConnection;
let adminKeyId: string;

beforeAll(async () => {
  nc = await connectToFleetNats(fleet.state);
  adminKeyId = (await api(fleet, 'GET', '/whoami')).body.key_id as string;
});

afterAll(async () => {
  await nc?.close();
});

/** Each bucket's keys at their revisions: any write, delete or purge changes it. */
async function bucketState(): Promise<Record<string, string[]>> {
  const kvm = new Kvm(nc);
  const state: Record<string, string[]> = {};
  for (const bucket of WRITTEN_BUCKETS) {
    const kv = await kvm.open(bucket);
    const entries: string[] = [];
    for await (const key of await kv.keys()) entries.push(`${key}@${(await kv.get(key))?.revision ?? 'gone'}`);
    state[bucket] = entries.sort();
  }
  return state;
}

/** The operation's path with a real host, a build version and, for a revocation, the admin key's own id. */
function concretePath(op: OperationSpec): string {
  const values: Record<string, string> = { hostname: 'web-01', jti: adminKeyId, version: '1.0.0' };
  return op.path.replace(/\{(\w+)\}/g, (_m, name: string) => values[name] ?? name);
}

const operatorLacks = (permission: Permission | 'none') =>
  permission !== 'none' && !(ROLES.operator as readonly Permission[]).includes(permission);
const guarded = OPERATIONS.filter((op) => !op.nodeTargeted && operatorLacks(op.permission));

describe('gateway operations called by a key lacking their permission', () => {
  it('are the ones the contract guards with a permission an operator lacks', () => {
    expect(guarded.map((op) => op.name).sort()).toEqual([
      'agent.accept',
      'agent.drain',
      'agent.joinToken',
      'agent.label',
      'agent.remove',
      'agent.rotate',
      'agent.undrain',
      'agentBuild.upload',
      'audit.list',
      'token.create',
      'token.list',
      'token.revoke',
    ]);
  });

  for (const op of guarded) {
    attack(`an operator key calls ${op.name}, which needs ${op.permission}`, async () => {
      const before = await bucketState();
      const example = contract.paths[op.path][op.method].requestBody?.content['application/json']?.example;
      const res = await api(fleet, op.method.toUpperCase(), concretePath(op), { key: fleet.mintKey('operator'), body: example });
      expect({ status: res.status, reason: res.body.reason }).toEqual({ status: 403, reason: 'permission_denied' });
      expect(res.body.details).toContain(`requires permission '${op.permission}'`);
      // Nothing read leaks into the refusal, and nothing was written.
      expect(Object.keys(res.body).sort()).toEqual(['code', 'details', 'error', 'reason']);
      expect(await bucketState()).toEqual(before);
    });
  }
});
