/**
 * API-key security on the real gateway: forged and stale keys are refused,
 * revocation holds from the next request, every authenticated or refused call
 * is audited, abuse is bounded, and no key ever shows up where it should not.
 */
import { readFileSync } from 'node:fs';
import jwt from 'jsonwebtoken';
import { assertMatchesContract } from '../support/contract';
import { useTestFleet } from '../support/suite';
import { api } from '../support/http';

const RATE_LIMIT = 200;
const fleet = useTestFleet({ gatewayEnv: { FLEET_RATE_LIMIT_PER_MINUTE: String(RATE_LIMIT), FLEET_BODY_LIMIT: '16kb' } });
let secret: string;

beforeAll(() => {
  secret = readFileSync(fleet.state.jwtSecretFile, 'utf8').trim();
});

const b64url = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
const future = () => Math.floor(Date.now() / 1000) + 3600;
const claims = () => ({ role: 'admin', sub: 'mallory', jti: 'forged-1', iss: 'fleet', exp: future() });

describe('forged and stale keys', () => {
  const attacks: Array<[string, () => string, RegExp]> = [
    ['alg:none', () => `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url(claims())}.`, /invalid/],
    ['a key signed with another secret', () => jwt.sign(claims(), 'x'.repeat(48), { algorithm: 'HS256' }), /invalid signature/],
    ['an HS512 key (algorithm not pinned one)', () => jwt.sign(claims(), secret, { algorithm: 'HS512' }), /invalid algorithm/],
    ['an expired key', () => jwt.sign({ ...claims(), exp: Math.floor(Date.now() / 1000) - 60 }, secret, { algorithm: 'HS256' }), /expired/],
    [
      'a key without exp',
      () => jwt.sign({ role: 'admin', sub: 'mallory', jti: 'no-exp', iss: 'fleet' }, secret, { algorithm: 'HS256' }),
      /no expiry/,
    ],
    [
      'a key without jti',
      () => jwt.sign({ role: 'admin', sub: 'mallory', iss: 'fleet', exp: future() }, secret, { algorithm: 'HS256' }),
      /no id/,
    ],
    [
      'a viewer key whose payload was changed to admin',
      () => {
        const [header, , signature] = fleet.mintKey('viewer').split('.');
        return `${header}.${b64url(claims())}.${signature}`;
      },
      /invalid signature/,
    ],
    ['garbage', () => 'not-a-jwt', /malformed/],
  ];

  it.each(attacks)('refuses %s with 401', async (_name, forge, reason) => {
    const res = await api(fleet, 'POST', '/agent/web-01/drain', { key: forge() });
    expect(res.status).toBe(401);
    expect(res.body).toEqual({
      error: expect.stringMatching(/^Unauthorized - /),
      details: expect.stringMatching(reason),
      code: 401,
      reason: 'unauthenticated',
    });
    const agent = await api(fleet, 'GET', '/agent/web-01');
    expect(agent.body.drained).toBe(false);
  });

  it('refuses a revoked key from the next request, on its jti', async () => {
    const key = fleet.mintKey('operator', { subject: 'soon-revoked' });
    expect((await api(fleet, 'GET', '/agent', { key })).status).toBe(200);
    const { jti } = jwt.decode(key) as { jti: string };

    const viewerTry = await api(fleet, 'DELETE', `/token/${jti}`, { key: fleet.mintKey('viewer') });
    expect(viewerTry.status).toBe(403);
    expect(viewerTry.body.details).toContain('token:admin');

    const revoked = await api(fleet, 'DELETE', `/token/${jti}`);
    expect(revoked.status).toBe(200);
    assertMatchesContract('token.revoke', 200, revoked.body);

    const after = await api(fleet, 'GET', '/agent', { key });
    expect(after.status).toBe(401);
    expect(after.body.error).toBe('Unauthorized - API key revoked');
  });

  it('keeps revocations across a gateway restart', async () => {
    const key = fleet.mintKey('viewer');
    const { jti } = jwt.decode(key) as { jti: string };
    await api(fleet, 'DELETE', `/token/${jti}`);
    await fleet.restartGateway();
    expect((await api(fleet, 'GET', '/agent', { key })).status).toBe(401);
  });
});

describe('target-scoped keys', () => {
  it('reach only hosts inside the scope, whatever the target says', async () => {
    const key = fleet.mintKey('operator', { scope: 'zone:eu' });
    expect((await api(fleet, 'GET', '/node/zone:eu.west/container/docker', { key })).status).toBe(200);
    expect((await api(fleet, 'GET', '/node/web-01/container/docker', { key })).status).toBe(200);
    for (const target of ['_all', 'web-02', 'role:web']) {
      const res = await api(fleet, 'GET', `/node/${target}/container/docker`, { key });
      expect({ target, status: res.status }).toEqual({ target, status: 404 });
      expect(res.body.details).toBe("no host of this key's scope 'zone:eu' matches this target");
    }
  });
});

describe('the audit trail', () => {
  it('records authenticated calls with caller, method, path, target, job and status, and refused ones too', async () => {
    const key = fleet.mintKey('operator', { subject: 'audited-pipeline' });
    const listed = await api(fleet, 'GET', '/node/role:web/container/docker', { key });
    const forbidden = await api(fleet, 'POST', '/agent/web-01/drain', { key });
    expect(forbidden.status).toBe(403);
    await api(fleet, 'GET', '/agent', { key: null });

    // Entries are written after the response; give the stream a moment.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const trail = await api(fleet, 'GET', '/audit?caller=audited-pipeline');
    expect(trail.status).toBe(200);
    assertMatchesContract('audit.list', 200, trail.body);
    const [drain, list] = trail.body.entries;
    expect(drain).toMatchObject({ caller: 'audited-pipeline', role: 'operator', method: 'POST', path: '/agent/web-01/drain', status: 403 });
    expect(list).toMatchObject({
      caller: 'audited-pipeline',
      method: 'GET',
      path: '/node/role:web/container/docker',
      target: 'role:web',
      job_id: listed.body.job_id,
      status: 200,
      duration_ms: expect.any(Number),
    });

    const refused = await api(fleet, 'GET', '/audit?status=401&limit=1');
    expect(refused.body.entries[0]).toMatchObject({ caller: null, path: '/agent', status: 401 });
  });

  it('pages newest first and needs audit:read', async () => {
    const first = await api(fleet, 'GET', '/audit?limit=3');
    expect(first.body.entries).toHaveLength(3);
    const second = await api(fleet, 'GET', `/audit?limit=3&cursor=${first.body.next_cursor}`);
    const times = [...first.body.entries, ...second.body.entries].map((e: { time: string }) => Date.parse(e.time));
    expect(times).toEqual([...times].sort((a, b) => b - a));

    const operator = await api(fleet, 'GET', '/audit', { key: fleet.mintKey('operator') });
    expect(operator.status).toBe(403);
    expect(operator.body.details).toContain('audit:read');
  });
});

describe('abuse limits', () => {
  it('answers 413 to a body over the limit', async () => {
    const res = await api(fleet, 'POST', '/node/_all/container/docker', {
      body: { image: 'local/busybox:latest', labels: { big: 'x'.repeat(20_000) } },
    });
    expect(res.status).toBe(413);
    expect(res.body).toMatchObject({ error: 'request body too large', code: 413, details: expect.any(String) });
  });

  it('answers 429 with Retry-After once a key exceeds its rate, without slowing other keys', async () => {
    const key = fleet.mintKey('viewer');
    const statuses: number[] = [];
    for (let i = 0; i <= RATE_LIMIT; i++) statuses.push((await api(fleet, 'GET', '/agent', { key })).status);
    expect(statuses.slice(0, RATE_LIMIT).every((s) => s === 200)).toBe(true);
    const limited = await api(fleet, 'GET', '/agent', { key });
    expect(limited.status).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(limited.body).toMatchObject({
      error: 'Too Many Requests',
      code: 429,
      reason: 'rate_limited',
      details: expect.stringContaining(String(RATE_LIMIT)),
    });

    expect((await api(fleet, 'GET', '/agent', { key: fleet.mintKey('viewer') })).status).toBe(200);
  });
});

describe('secrets', () => {
  it('never writes an API key into a log line, a job record, an audit entry or an error body', async () => {
    const key = fleet.mintKey('operator', { subject: 'secret-check' });
    const bodies: string[] = [];
    const created = await api(fleet, 'POST', '/node/_all/container/docker', {
      key,
      body: { image: 'local/busybox:latest', cmd: ['true'] },
    });
    bodies.push(JSON.stringify(created.body));
    bodies.push(JSON.stringify((await api(fleet, 'GET', '/node/web-01/container/docker/nosuch', { key })).body));
    bodies.push(JSON.stringify((await api(fleet, 'GET', '/audit', { key })).body));
    bodies.push(JSON.stringify((await api(fleet, 'GET', '/agent', { key: `${key}x` })).body));
    bodies.push(JSON.stringify((await api(fleet, 'GET', `/job/${created.body.job_id}`)).body));
    bodies.push(JSON.stringify((await api(fleet, 'GET', '/audit?limit=200')).body));
    bodies.push(JSON.stringify((await api(fleet, 'GET', '/job?limit=200')).body));
    const logs = ['gateway', 'agent-web-01', 'agent-web-02', 'agent-db-01'].map((name) => fleet.log(name));

    const signature = key.split('.')[2];
    for (const text of [...bodies, ...logs]) {
      expect(text).not.toContain(key);
      expect(text).not.toContain(signature);
      expect(text).not.toContain(fleet.adminKey.split('.')[2]);
      expect(text).not.toContain(secret);
    }
    // The check looked at real material: the job and the caller are there.
    expect(bodies.join()).toContain(created.body.job_id);
    expect(logs[0]).toContain('secret-check');
  });
});
