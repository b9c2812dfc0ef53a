import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { signBuild } from '@fleet/contracts/agent-build';
import { upgradeExecutor, type UpgradeSettings } from '../../upgrade';
import { contextOf, fakeEngine } from '../fake-engine';
import { agentUpgradeUnavailable } from './upgrade';

const release = generateKeyPairSync('ed25519');
const other = generateKeyPairSync('ed25519');
const BUNDLE = Buffer.from('console.log("agent 1.1.0")\n');

describe('docker.agent.upgrade', () => {
  let dir: string;
  let restarts: number;
  /** Resolves at the hand-over to the launcher, which comes only once the build is staged and the trial recorded. */
  let handedOver: Promise<void>;
  let handOver: () => void;
  beforeEach(() => {
    dir = mkdtempSync('/tmp/upgrade-test-');
    restarts = 0;
    handedOver = new Promise((resolve) => (handOver = resolve));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const settings = (overrides: Partial<UpgradeSettings> = {}): UpgradeSettings => ({
    version: '1.0.0',
    releaseKey: release.publicKey,
    launcherDir: dir,
    restart: () => {
      restarts++;
      handOver();
    },
    ...overrides,
  });
  const run = (file: Buffer, version: string, overrides: Partial<UpgradeSettings> = {}) => {
    const ctx = contextOf(fakeEngine({}).docker, { jobId: 'job-7', upload: () => Readable.from([file]) });
    return upgradeExecutor(settings(overrides))({ body: { version } }, ctx);
  };
  const signed = (version: string, key: KeyObject = release.privateKey) => signBuild(BUNDLE, version, key);
  const nothingStaged = () => {
    expect(existsSync(join(dir, 'builds'))).toBe(false);
    expect(existsSync(join(dir, 'trial.json'))).toBe(false);
    expect(restarts).toBe(0);
  };

  it('stages a build signed by its release key, records the trial, and hands over to the launcher', async () => {
    const pending = run(signed('1.1.0'), '1.1.0');
    await handedOver;
    expect(readFileSync(join(dir, 'builds', '1.1.0', 'agent.js'))).toEqual(BUNDLE);
    expect(JSON.parse(readFileSync(join(dir, 'trial.json'), 'utf8'))).toMatchObject({ version: '1.1.0', from: '1.0.0', job_id: 'job-7' });
    expect(restarts).toBe(1);
    // The row is the next build's to write: this one never settles.
    expect(await Promise.race([pending.then(() => 'settled'), new Promise((resolve) => setTimeout(() => resolve('pending'), 50))])).toBe(
      'pending',
    );
  });

  it('refuses a build whose bytes changed after signing, and stages nothing', async () => {
    const tampered = Buffer.from(signed('1.1.0'));
    tampered[tampered.length - 2] ^= 0x20;
    await expect(run(tampered, '1.1.0')).rejects.toMatchObject({ statusCode: 409, message: expect.stringContaining('changed after') });
    nothingStaged();
  });

  it('refuses a build signed by another key, or by none', async () => {
    await expect(run(signed('1.1.0', other.privateKey), '1.1.0')).rejects.toThrow(/does not verify/);
    await expect(run(BUNDLE, '1.1.0')).rejects.toThrow(/not a signed build/);
    nothingStaged();
  });

  it('refuses a downgrade, the same version, another version than asked, and a version with path characters', async () => {
    await expect(run(signed('0.9.0'), '0.9.0')).rejects.toThrow(/no downgrade/);
    await expect(run(signed('1.0.0'), '1.0.0')).rejects.toThrow(/no downgrade/);
    await expect(run(signed('1.2.0'), '1.1.0')).rejects.toThrow(/is version 1.2.0, not 1.1.0/);
    await expect(run(signed('1.1.0'), '../../1.1.0')).rejects.toThrow(/MAJOR.MINOR.PATCH/);
    nothingStaged();
  });

  it('refuses without its own release key or its launcher, whatever the build', async () => {
    await expect(run(signed('1.1.0'), '1.1.0', { releaseKey: undefined })).rejects.toThrow(/no release public key/);
    await expect(run(signed('1.1.0'), '1.1.0', { launcherDir: undefined })).rejects.toThrow(/without its launcher/);
    await expect(agentUpgradeUnavailable({ body: { version: '1.1.0' } }, contextOf(fakeEngine({}).docker))).rejects.toMatchObject({
      statusCode: 409,
    });
    nothingStaged();
  });
});
