/**
 * Agents upgraded by the fleet itself (README "Upgrading agents"), on three real engines whose agents run
 * under the launcher and a restart-loop supervisor standing in for systemd. v2 is the same agent code built
 * under another version string, signed with the fleet's release key, uploaded with the CLI and rolled out
 * one host at a time with `max_failures=0`. web-01's launcher gives a new build a trial deadline no agent
 * can meet, so its upgrade fails honestly: the rollout stops there, web-01 runs its previous build again,
 * db-01 (before it) runs v2 and web-02 (after it) was never sent the job. A build tampered with after it was
 * signed, put in the bucket behind the gateway's back, is refused by every agent and nothing is staged.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Objm } from '@nats-io/obj';
import { signBuild, verifySignedBuild } from '@fleet/contracts/agent-build';
import { AGENT_BUILDS_BUCKET } from '@fleet/contracts/protocol';
import { TestSupervisor } from '../support/agent-launcher';
import { eventually } from '../support/eventually';
import { fleetCliFromSource } from '../support/fleet-cli';
import { api } from '../support/http';
import { connectToFleetNats } from '../support/nats';
import { useTestFleet } from '../support/suite';

const HOSTS = ['db-01', 'web-01', 'web-02'];
const OLD = (JSON.parse(readFileSync('apps/agent/package.json', 'utf8')) as { version: string }).version;
const V2 = '0.2.0';
const TAMPERED = '0.3.0';
/** web-01's launcher: no agent reports its version within 50 ms of its start, so its trial always fails. */
const TRIAL_SECONDS: Record<string, number> = { 'db-01': 120, 'web-01': 0.05, 'web-02': 120 };

// The key pair exists before the gateway starts: it reads the public half at start-up.
const keys = mkdtempSync('/tmp/flt-release-');
const releaseKey = generateKeyPairSync('ed25519', {
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  publicKeyEncoding: { type: 'spki', format: 'pem' },
});
writeFileSync(join(keys, 'release.key'), releaseKey.privateKey, { mode: 0o600 });
writeFileSync(join(keys, 'release.pub'), releaseKey.publicKey);
const releasePublicKeyFile = join(keys, 'release.pub');

const fleet = useTestFleet({ gatewayEnv: { FLEET_RELEASE_PUBLIC_KEY_FILE: releasePublicKeyFile } });
const supervisors = new Map<string, TestSupervisor>();
const launcherDir = (host: string) => join(keys, 'launcher', host);

async function agentVersions(): Promise<Record<string, string>> {
  const { body } = await api(fleet, 'GET', '/agent');
  const live = (body.agents as Array<{ hostname: string; live: boolean; agent_version: string }>).filter((agent) => agent.live);
  return Object.fromEntries(live.map((agent) => [agent.hostname, agent.agent_version]));
}

function cli(args: string[]) {
  return fleetCliFromSource(args, { FLEET_URL: fleet.url, FLEET_API_KEY: fleet.adminKey });
}

beforeAll(async () => {
  const built = join(keys, 'v2');
  const build = require('../../scripts/build.cjs') as { buildAgentBundle(opts: { outfile: string; version: string }): Promise<void> };
  await build.buildAgentBundle({ outfile: join(built, 'agent.js'), version: V2 });
  for (const host of HOSTS) {
    supervisors.set(
      host,
      await TestSupervisor.takeOver(fleet, host, { dir: launcherDir(host), trialSeconds: TRIAL_SECONDS[host], releasePublicKeyFile }),
    );
  }
  await eventually(agentVersions, (versions) => expect(versions).toEqual({ 'db-01': OLD, 'web-01': OLD, 'web-02': OLD }), 60_000);
}, 180_000);

afterAll(async () => {
  await Promise.all([...supervisors.values()].map((supervisor) => supervisor.stop()));
  rmSync(keys, { recursive: true, force: true });
});

describe('fleet agent build sign, upload and ls', () => {
  it('signs v2 with the release key, uploads it, and lists it with its manifest', async () => {
    const signedFile = join(keys, `agent-${V2}.build`);
    const signed = await cli([
      'agent',
      'build',
      'sign',
      join(keys, 'v2', 'agent.js'),
      '--build-version',
      V2,
      '--key',
      join(keys, 'release.key'),
      '--out',
      signedFile,
    ]);
    expect(signed.code).toBe(0);
    const uploaded = await cli(['agent', 'build', 'upload', signedFile, '--json']);
    expect(uploaded.stderr).toBe('');
    expect(JSON.parse(uploaded.stdout)).toMatchObject({ version: V2, size: readFileSync(join(keys, 'v2', 'agent.js')).length });
    const listed = await cli(['agent', 'build', 'ls', '--json']);
    expect(JSON.parse(listed.stdout).builds.map((build: { version: string }) => build.version)).toEqual([V2]);
  }, 120_000);
});

describe('a build tampered with after it was signed, put in the bucket behind the gateway', () => {
  it('is refused by every agent: each row says why, each still runs its old build, nothing is staged', async () => {
    const signed = signBuild(readFileSync(join(keys, 'v2', 'agent.js')), TAMPERED, createPrivateKey(releaseKey.privateKey));
    const tampered = Buffer.from(signed);
    tampered[tampered.length - 10] ^= 0xff;
    const verified = verifySignedBuild(signed, createPublicKey(releaseKey.publicKey), TAMPERED);
    if ('refused' in verified) throw new Error(verified.refused);
    const nc = await connectToFleetNats(fleet.state);
    try {
      const bucket = await new Objm(nc).open(AGENT_BUILDS_BUCKET);
      const facts = { manifest: verified.manifest, uploaded_at: new Date().toISOString(), uploaded_by: 'not-the-gateway' };
      await bucket.putBlob({ name: TAMPERED, description: JSON.stringify(facts), options: { max_chunk_size: 128 * 1024 } }, tampered);
    } finally {
      await nc.close();
    }

    const res = await api(fleet, 'POST', '/node/_all/agent/upgrade?timeout=60', { body: { version: TAMPERED } });

    expect(res.status).toBe(202);
    for (const row of res.body.results) {
      expect(row).toMatchObject({ status: 'failed', error_code: 409 });
      expect(row.error).toContain("the bundle's SHA-256 is not its manifest's");
    }
    expect(await agentVersions()).toEqual({ 'db-01': OLD, 'web-01': OLD, 'web-02': OLD });
    // Audited: the call, with the job whose rows say why each host refused.
    const audit = await api(fleet, 'GET', `/audit?job_id=${res.body.job_id}`);
    expect(audit.body.entries).toEqual([expect.objectContaining({ operation: 'docker.agent.upgrade', caller: expect.any(String) })]);
    for (const host of HOSTS) {
      expect(existsSync(join(launcherDir(host), 'builds', TAMPERED))).toBe(false);
      expect(existsSync(join(launcherDir(host), 'trial.json'))).toBe(false);
      expect(TestSupervisor.running(launcherDir(host))).toMatchObject({ build: 'initial', trial: false });
    }
  }, 120_000);
});

describe('POST /node/_all/agent/upgrade?batch=1&max_failures=0 with web-01 unable to start v2 in time', () => {
  it('upgrades db-01, stops at web-01, which runs its previous build again, and never reaches web-02', async () => {
    const pids = Object.fromEntries(HOSTS.map((host) => [host, TestSupervisor.running(launcherDir(host))?.pid]));

    const res = await api(fleet, 'POST', '/node/_all/agent/upgrade?batch=1&max_failures=0&timeout=90', {
      body: { version: V2 },
      timeoutMs: 240_000,
    });

    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({ reason: 'rollout_stopped', rollout: { state: 'stopped', failures: 1, max_failures: 0 } });
    const rows = Object.fromEntries(res.body.results.map((row: { hostname: string }) => [row.hostname, row]));
    expect(rows['db-01']).toMatchObject({ status: 'ok', changed: true, version: V2, wave: 1 });
    expect(rows['web-01']).toMatchObject({ status: 'failed', version: OLD, wave: 2 });
    expect(rows['web-01'].error).toContain(`upgrade to ${V2} failed: it did not report its version within 0.05 s; ${OLD} runs again`);
    expect(rows['web-02']).toMatchObject({ status: 'skipped', wave: 3 });

    await eventually(agentVersions, (versions) => expect(versions).toEqual({ 'db-01': V2, 'web-01': OLD, 'web-02': OLD }), 60_000);
    // db-01: the launcher runs v2 in a new process, started on trial and confirmed: `current` names it, no trial is left.
    expect(readFileSync(join(launcherDir('db-01'), 'current'), 'utf8')).toBe(V2);
    expect(TestSupervisor.running(launcherDir('db-01'))).toMatchObject({ build: V2 });
    for (const file of ['trial.json', 'trying.json', 'confirmed.json', 'failed.json'])
      expect(existsSync(join(launcherDir('db-01'), file))).toBe(false);
    expect(TestSupervisor.running(launcherDir('db-01'))?.pid).not.toBe(pids['db-01']);
    // web-01: tried v2, went back: its previous build runs in a new process, v2 is gone from its disk.
    expect(readFileSync(join(launcherDir('web-01'), 'current'), 'utf8')).toBe('initial');
    expect(TestSupervisor.running(launcherDir('web-01'))).toMatchObject({ build: 'initial', trial: false });
    expect(TestSupervisor.running(launcherDir('web-01'))?.pid).not.toBe(pids['web-01']);
    expect(existsSync(join(launcherDir('web-01'), 'builds', V2))).toBe(false);
    expect(existsSync(join(launcherDir('web-01'), 'failed.json'))).toBe(false);
    // web-02: never sent the job, the same process runs the same build.
    expect(TestSupervisor.running(launcherDir('web-02'))).toEqual(expect.objectContaining({ build: 'initial', pid: pids['web-02'] }));
    expect(existsSync(join(launcherDir('web-02'), 'builds', V2))).toBe(false);
  }, 300_000);

  it('fleet agent upgrade takes the same call from the CLI: a dry run plans one host per wave and sends nothing', async () => {
    const planned = await cli(['agent', 'upgrade', V2, '--target', '_all', '--batch', '1', '--dry-run', '--json']);
    expect(planned.code).toBe(0);
    expect(JSON.parse(planned.stdout).rollout.waves.map((wave: { hosts: string[] }) => wave.hosts)).toEqual([
      ['db-01'],
      ['web-01'],
      ['web-02'],
    ]);
  }, 120_000);
});
