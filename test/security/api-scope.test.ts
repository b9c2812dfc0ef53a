/**
 * Issue 10, finding 4: scope holes. A key scoped to role:web reaches only web-01 and web-02,
 * whatever it calls: drain/undrain, the agent list, the audit trail, _any, minting and revoking
 * keys. Effects are checked behind the gateway: drains in the `fleet_drains` bucket, containers
 * counted on each engine, revocations in the `fleet_revoked` bucket.
 */
import { readFileSync } from 'node:fs';
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import jwt from 'jsonwebtoken';
import { DRAINS_BUCKET, REVOKED_BUCKET } from '@fleet/contracts/protocol';
import { attack } from '../support/attacks';
import { countContainers } from '../support/docker';
import { fleetCliFromSource } from '../support/fleet-cli';
import { api, errorBody } from '../support/http';
import { connectToFleetNats } from '../support/nats';
import { useTestFleet } from '../support/suite';

const fleet = useTestFleet();
const IMAGE = 'local/busybox:latest';
const HOSTS = ['db-01', 'web-01', 'web-02'];
let nc: NatsConnection;
let webAdmin: string;

beforeAll(async () => {
  nc = await connectToFleetNats(fleet.state);
  webAdmin = fleet.mintKey('admin', { scope: 'role:web', subject: 'web-team-admin' });
});

afterAll(async () => {
  await nc?.close();
});

async function bucketKeys(bucket: string): Promise<string[]> {
  const kv = await new Kvm(nc).open(bucket);
  const keys: string[] = [];
  for await (const key of await kv.keys()) keys.push(key);
  return keys;
}

const mentions = (body: unknown, text: string) => JSON.stringify(body).includes(text);

describe('agents', () => {
  attack('role:web admin drains db-01', async () => {
    const drain = await api(fleet, 'POST', '/agent/db-01/drain', { key: webAdmin });
    expect(drain.status).toBe(404);
    const details = "no host of this key's scope 'role:web' matches this target";
    expect(drain.body).toEqual(errorBody({ code: 404, reason: 'not_found', error: 'agent not found', details }));
    expect(await bucketKeys(DRAINS_BUCKET)).not.toContain('db-01');
    expect((await api(fleet, 'GET', '/agent/db-01')).body.drained).toBe(false);
  });

  attack('role:web admin undrains db-01 after an unscoped admin drained it', async () => {
    expect((await api(fleet, 'POST', '/agent/db-01/drain')).status).toBe(200);
    try {
      const undrain = await api(fleet, 'POST', '/agent/db-01/undrain', { key: webAdmin });
      expect(undrain.status).toBe(404);
      expect(await bucketKeys(DRAINS_BUCKET)).toContain('db-01');
      expect((await api(fleet, 'GET', '/agent/db-01')).body.drained).toBe(true);
    } finally {
      await api(fleet, 'POST', '/agent/db-01/undrain');
    }
  });

  attack('role:web admin lists and gets agents outside its scope', async () => {
    const list = await api(fleet, 'GET', '/agent', { key: webAdmin });
    expect(list.body.agents.map((agent: { hostname: string }) => agent.hostname)).toEqual(['web-01', 'web-02']);
    const get = await api(fleet, 'GET', '/agent/db-01', { key: webAdmin });
    expect(get.status).toBe(404);
    expect(mentions(list.body, 'db-01')).toBe(false);
  });

  it('still drains and undrains its own hosts', async () => {
    const drain = await api(fleet, 'POST', '/agent/web-02/drain', { key: webAdmin });
    expect(drain.body).toMatchObject({ hostname: 'web-02', drained: true });
    expect(await bucketKeys(DRAINS_BUCKET)).toContain('web-02');
    const undrain = await api(fleet, 'POST', '/agent/web-02/undrain', { key: webAdmin });
    expect(undrain.body).toMatchObject({ hostname: 'web-02', drained: false });
  });
});

describe('the audit trail', () => {
  attack('role:web admin reads /audit?target=db-01', async () => {
    expect((await api(fleet, 'GET', '/node/db-01/container/docker')).status).toBe(200);
    expect((await api(fleet, 'GET', '/node/role:web/container/docker', { key: webAdmin })).status).toBe(200);
    // Entries are written after the response.
    await new Promise((done) => setTimeout(done, 500));
    expect((await api(fleet, 'GET', '/audit?target=db-01')).body.entries.length).toBeGreaterThan(0);

    const targeted = await api(fleet, 'GET', '/audit?target=db-01', { key: webAdmin });
    expect(targeted.status).toBe(200);
    expect(targeted.body.entries).toEqual([]);
    const everything = await api(fleet, 'GET', '/audit?limit=200', { key: webAdmin });
    expect(mentions(everything.body, 'db-01')).toBe(false);
    const targets = new Set(everything.body.entries.map((entry: { target: string }) => entry.target));
    expect([...targets].every((target) => ['role:web', 'web-01', 'web-02'].includes(target as string))).toBe(true);
    expect(everything.body.entries.some((entry: { caller: string }) => entry.caller === 'web-team-admin')).toBe(true);
  });
});

describe('_any', () => {
  attack('operator scoped to role:web creates 20 containers on _any', async () => {
    const key = fleet.mintKey('operator', { scope: 'role:web' });
    const bodies: unknown[] = [];
    for (let i = 0; i < 20; i++) {
      const res = await api(fleet, 'POST', '/node/_any/container/docker', {
        key,
        body: { image: IMAGE, cmd: ['true'], labels: { 'g2.any': String(i) } },
      });
      expect({ i, status: res.status }).toEqual({ i, status: 202 });
      bodies.push(res.body);
    }
    const counts = Object.fromEntries(
      await Promise.all(HOSTS.map(async (host) => [host, await countContainers(fleet.docker(host), 'g2.any')])),
    );
    expect(counts['db-01']).toBe(0);
    expect(counts['web-01'] + counts['web-02']).toBe(20);
    expect(counts['web-01']).toBeGreaterThan(0);
    expect(counts['web-02']).toBeGreaterThan(0);
    expect(bodies.filter((body) => mentions(body, 'db-01'))).toEqual([]);
  });

  attack("a target reaching outside the scope is refused with the scope's one 404, naming no host outside it", async () => {
    const key = fleet.mintKey('operator', { scope: 'role:web' });
    for (const target of ['_all', 'zone:eu']) {
      const res = await api(fleet, 'POST', `/node/${target}/container/docker`, {
        key,
        body: { image: IMAGE, cmd: ['true'], labels: { 'g2.wide': target } },
      });
      expect({ target, status: res.status, db: mentions(res.body, 'db-01') }).toEqual({ target, status: 404, db: false });
    }
    for (const host of HOSTS) expect({ host, made: await countContainers(fleet.docker(host), 'g2.wide') }).toEqual({ host, made: 0 });
  });
});

describe('minting keys', () => {
  attack("an empty scope mints no key: CLI --scope '', POST /token, a key signed with scope ''", async () => {
    const cli = await fleetCliFromSource(['token', 'create', '--role', 'admin', '--scope', ''], {
      FLEET_JWT_SECRET_FILE: fleet.state.jwtSecretFile,
    });
    expect({ code: cli.code, stdout: cli.stdout }).toEqual({ code: 2, stdout: '' });
    expect(cli.stderr).toContain('scope is empty');
    expect(() => fleet.mintKey('admin', { scope: '' })).toThrow('scope is empty');

    const minted = await api(fleet, 'POST', '/token', { body: { role: 'admin', scope: '' } });
    expect(minted.status).toBe(400);
    expect(minted.body).toEqual(errorBody({ code: 400, reason: 'validation_failed', error: 'invalid request', details: 'scope is empty' }));

    // A key minted before the fix, with scope '', is no unscoped key: it is refused.
    const secret = readFileSync(fleet.state.jwtSecretFile, 'utf8').trim();
    const legacy = jwt.sign({ role: 'admin', scope: '' }, secret, {
      algorithm: 'HS256',
      expiresIn: 600,
      subject: 'legacy',
      jwtid: 'legacy-empty-scope',
      issuer: 'fleet',
    });
    const drain = await api(fleet, 'POST', '/agent/db-01/drain', { key: legacy });
    expect(drain.status).toBe(401);
    expect(await bucketKeys(DRAINS_BUCKET)).not.toContain('db-01');
  });

  attack('role:web admin mints a key wider than its own scope through POST /token', async () => {
    for (const scope of ['zone:eu', 'db-01', 'role:webby', 'web-01']) {
      const res = await api(fleet, 'POST', '/token', { key: webAdmin, body: { role: 'admin', scope } });
      expect({ scope, status: res.status, key: res.body.key }).toEqual({ scope, status: 403, key: undefined });
    }
    for (const scope of ['_all', '_any'])
      expect((await api(fleet, 'POST', '/token', { key: webAdmin, body: { role: 'admin', scope } })).status).toBe(400);
    // Without a scope the new key inherits role:web: it still cannot drain db-01.
    const inherited = await api(fleet, 'POST', '/token', { key: webAdmin, body: { role: 'admin', ttl_seconds: 600 } });
    expect(inherited.status).toBe(201);
    expect(inherited.body.scope).toBe('role:web');
    expect((jwt.decode(inherited.body.key) as { scope: string }).scope).toBe('role:web');
    expect((await api(fleet, 'POST', '/agent/db-01/drain', { key: inherited.body.key })).status).toBe(404);
    expect(await bucketKeys(DRAINS_BUCKET)).not.toContain('db-01');
  });

  attack('role:web admin revokes an unscoped admin key', async () => {
    const victim = fleet.mintKey('admin', { subject: 'fleet-admin' });
    const { jti } = jwt.decode(victim) as { jti: string };
    const res = await api(fleet, 'DELETE', `/token/${jti}`, { key: webAdmin });
    expect(res.status).toBe(403);
    expect(await bucketKeys(REVOKED_BUCKET)).not.toContain(jti);
    expect((await api(fleet, 'GET', '/agent', { key: victim })).status).toBe(200);
  });

  it('a scoped admin mints narrower keys that work, and revokes its own key', async () => {
    const narrower = await api(fleet, 'POST', '/token', {
      key: webAdmin,
      body: { role: 'operator', scope: 'role:web,zone:eu', ttl_seconds: 600, subject: 'eu-web' },
    });
    expect(narrower.status).toBe(201);
    expect(narrower.body).toMatchObject({ role: 'operator', sub: 'eu-web', scope: 'role:web,zone:eu' });
    const agents = await api(fleet, 'GET', '/agent', { key: narrower.body.key });
    expect(agents.body.agents.map((agent: { hostname: string }) => agent.hostname)).toEqual(['web-01']);

    const self = fleet.mintKey('admin', { scope: 'role:web' });
    const { jti } = jwt.decode(self) as { jti: string };
    expect((await api(fleet, 'DELETE', `/token/${jti}`, { key: self })).status).toBe(200);
    expect(await bucketKeys(REVOKED_BUCKET)).toContain(jti);
  });
});
