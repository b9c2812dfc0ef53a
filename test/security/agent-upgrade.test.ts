/**
 * Agent builds and upgrades (README "Upgrading agents"): a build replaces the agent itself on every host it
 * reaches, so only an unscoped admin key uploads or rolls one out, only a build signed by the fleet's release
 * key is stored, and a host reads a build only through the gateway, for an upgrade job addressed to it.
 * What a viewer, operator or scoped key, an agent's own NATS login, or a forged upload could try; each
 * checked on the broker (what the bucket holds, the server's permission violations) and in the audit log.
 */
import { generateKeyPairSync, createPrivateKey } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { signBuild } from '@fleet/contracts/agent-build';
import { AGENT_BUILDS_BUCKET, objectChunkSubject, objectStreamName, uploadSubject } from '@fleet/contracts/protocol';
import { GATEWAY_LOGIN, useNatsLogins } from '../support/agent-login';
import { attack } from '../support/attacks';
import { api, errorBody } from '../support/http';
import { useTestFleet } from '../support/suite';

const keys = mkdtempSync('/tmp/flt-release-');
const pair = () =>
  generateKeyPairSync('ed25519', {
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
const releaseKey = pair();
const otherKey = pair();
writeFileSync(join(keys, 'release.pub'), releaseKey.publicKey);

const fleet = useTestFleet({ gatewayEnv: { FLEET_RELEASE_PUBLIC_KEY_FILE: join(keys, 'release.pub') } });
const logins = useNatsLogins(fleet, { db01: 'db-01', web01: 'web-01', gateway: GATEWAY_LOGIN });
afterAll(() => rmSync(keys, { recursive: true, force: true }));

const BUNDLE = Buffer.from('"use strict"; process.stdout.write("an agent build\\n");\n'.repeat(20_000));
const signedBy = (key: string, version: string) => signBuild(BUNDLE, version, createPrivateKey(key));

function upload(version: string, body: Buffer, key = fleet.adminKey): Promise<{ status: number; body: Record<string, unknown> }> {
  return fetch(`${fleet.url}/agent-build/${version}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/octet-stream' },
    body: new Uint8Array(body),
  }).then(async (res) => ({ status: res.status, body: (await res.json()) as Record<string, unknown> }));
}

/** The signed file with its signature taken out of the header: a manifest no key vouches for. */
function withoutSignature(signed: Buffer): Buffer {
  const newline = signed.indexOf(0x0a);
  const { manifest } = JSON.parse(signed.subarray(0, newline).toString()) as { manifest: unknown };
  return Buffer.concat([Buffer.from(`${JSON.stringify({ manifest })}\n`), signed.subarray(newline + 1)]);
}

/** Messages in the build bucket's stream (chunks and metadata), as the broker counts them. */
async function bucketMessages(): Promise<number> {
  const jsm = await jetstreamManager(logins.gateway.nc);
  return (await jsm.streams.info(objectStreamName(AGENT_BUILDS_BUCKET))).state.messages;
}

async function storedVersions(): Promise<string[]> {
  return (await api(fleet, 'GET', '/agent-build')).body.builds.map((build: { version: string }) => build.version);
}

beforeAll(async () => {
  expect((await upload('1.0.0', signedBy(releaseKey.privateKey, '1.0.0'))).status).toBe(201);
});

attack('a viewer, an operator and a scoped admin key upload a signed build: refused, nothing stored', async () => {
  const before = await bucketMessages();
  const signed = signedBy(releaseKey.privateKey, '1.1.0');
  expect(await upload('1.1.0', signed, fleet.mintKey('viewer'))).toMatchObject({ status: 403, body: { reason: 'permission_denied' } });
  expect(await upload('1.1.0', signed, fleet.mintKey('operator'))).toMatchObject({ status: 403, body: { reason: 'permission_denied' } });
  const scoped = fleet.mintKey('admin', { scope: 'role:web' });
  expect(await upload('1.1.0', signed, scoped)).toMatchObject({ status: 403, body: { reason: 'out_of_scope' } });
  expect(await bucketMessages()).toBe(before);
  expect(await storedVersions()).toEqual(['1.0.0']);
});

attack('a viewer, an operator and a scoped admin key roll a build out: refused before any job exists', async () => {
  const jobsBefore = (await api(fleet, 'GET', '/job?operation=docker.agent.upgrade')).body.jobs.length;
  const call = (key: string) => api(fleet, 'POST', '/node/_all/agent/upgrade?batch=1', { key, body: { version: '1.0.0' } });
  expect((await call(fleet.mintKey('viewer'))).body).toEqual(
    errorBody({ code: 403, reason: 'permission_denied', error: 'Forbidden - Insufficient permissions', details: "'agent:write'" }),
  );
  expect((await call(fleet.mintKey('operator'))).status).toBe(403);
  const scoped = await call(fleet.mintKey('admin', { scope: 'role:web' }));
  expect(scoped.body).toMatchObject({ code: 403, reason: 'out_of_scope' });
  expect((await api(fleet, 'GET', '/job?operation=docker.agent.upgrade')).body.jobs.length).toBe(jobsBefore);
});

attack(
  'forged uploads: tampered after signing, unsigned, signed by another key, a downgrade, a path for a version: all refused and audited',
  async () => {
    const before = await bucketMessages();
    const tampered = Buffer.from(signedBy(releaseKey.privateKey, '1.2.0'));
    tampered[tampered.length - 3] ^= 0x01;
    const refusals: Array<[string, Buffer, number, string]> = [
      ['1.2.0', tampered, 422, 'changed after it was signed'],
      ['1.2.0', BUNDLE, 422, 'not a signed build'],
      ['1.2.0', withoutSignature(signedBy(releaseKey.privateKey, '1.2.0')), 422, 'the build is not signed'],
      ['1.2.0', signedBy(otherKey.privateKey, '1.2.0'), 422, 'does not verify'],
      ['0.9.0', signedBy(releaseKey.privateKey, '0.9.0'), 422, 'no downgrade'],
      ['1.2.0', signedBy(releaseKey.privateKey, '1.3.0'), 422, 'not 1.2.0'],
      ['..%2F..%2Fetc', signedBy(releaseKey.privateKey, '1.2.0'), 400, 'version'],
    ];
    for (const [version, body, status, details] of refusals) {
      const res = await upload(version, body);
      expect(res.status).toBe(status);
      expect(String(res.body.details)).toContain(details);
    }
    expect(await bucketMessages()).toBe(before);
    expect(await storedVersions()).toEqual(['1.0.0']);
    const audit = await api(fleet, 'GET', '/audit?method=PUT&limit=100');
    const refused = audit.body.entries.filter(
      (entry: { operation?: string; status: number }) => entry.operation === 'agentBuild.upload' && entry.status >= 400,
    );
    expect(refused.filter((entry: { status: number }) => entry.status === 422)).toHaveLength(6);
    for (const entry of refused.filter((entry: { status: number }) => entry.status === 422)) expect(entry.reason).toBe('build refused');
  },
);

attack("db-01's login writes a build into the bucket (a chunk, an object's metadata): the broker stores nothing", async () => {
  const before = await bucketMessages();
  for (const subject of [
    objectChunkSubject(AGENT_BUILDS_BUCKET, 'forged'),
    `$O.${AGENT_BUILDS_BUCKET}.M.${Buffer.from('9.9.9').toString('base64url')}`,
  ]) {
    logins.db01.nc.publish(subject, 'forged by db-01');
    await logins.db01.violationFor(subject);
  }
  await logins.db01.nc.flush();
  expect(await bucketMessages()).toBe(before);
});

attack("db-01's login reads the build bucket below the gateway: direct get, consumer, stream info all refused", async () => {
  const stream = objectStreamName(AGENT_BUILDS_BUCKET);
  for (const subject of [`$JS.API.DIRECT.GET.${stream}`, `$JS.API.CONSUMER.CREATE.${stream}`, `$JS.API.STREAM.INFO.${stream}`]) {
    const reply = await logins.db01.nc
      .request(subject, JSON.stringify({ next_by_subj: objectChunkSubject(AGENT_BUILDS_BUCKET, '>'), seq: 1 }), { timeout: 1000 })
      .catch(() => undefined);
    expect(reply?.string() ?? '').not.toContain('an agent build');
    await logins.db01.violationFor(subject);
  }
});

attack(
  "web-01's login reads db-01's upgrade job's build, and any host a build outside an upgrade job: it gets nothing",
  async () => {
    await fleet.killAgent('db-01', 'SIGSTOP');
    try {
      const started = await api(fleet, 'POST', '/node/db-01/agent/upgrade?async=true&timeout=8', { body: { version: '1.0.0' } });
      expect(started.status).toBe(202);
      const jobId = started.body.job_id as string;
      // The job's own host gets it: the build is really there to be had.
      const own = await logins.db01.nc.request(uploadSubject(jobId, 'db-01'), JSON.stringify({ after: 0 }), { timeout: 2000 });
      expect(own.string()).toContain('"version":"1.0.0"');
      // As db-01, on db-01's subject: the broker refuses the publish.
      await logins.web01.nc.request(uploadSubject(jobId, 'db-01'), JSON.stringify({ after: 0 }), { timeout: 1000 }).catch(() => undefined);
      await logins.web01.violationFor(uploadSubject(jobId, 'db-01'));
      // On its own subject: web-01 is no host of the job, so the gateway says nothing.
      await expect(
        logins.web01.nc.request(uploadSubject(jobId, 'web-01'), JSON.stringify({ after: 0 }), { timeout: 1000 }),
      ).rejects.toThrow(/timeout/i);
      // A job of web-01's that is no upgrade (a ping): no build comes with it.
      const ping = await api(fleet, 'GET', '/node/web-01/container/docker/system/ping');
      expect(ping.status).toBe(200);
      await expect(
        logins.web01.nc.request(uploadSubject(ping.body.job_id, 'web-01'), JSON.stringify({ after: 0 }), { timeout: 1000 }),
      ).rejects.toThrow(/timeout/i);
    } finally {
      await fleet.killAgent('db-01', 'SIGCONT');
    }
  },
  60_000,
);
