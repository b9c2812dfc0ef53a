import { generateKeyPairSync } from 'node:crypto';
import { compareBuildVersions, isBuildVersion, signBuild, verifySignedBuild } from './agent-build';

const release = generateKeyPairSync('ed25519');
const BUNDLE = Buffer.from('the agent\n'.repeat(100));

describe('a signed agent build', () => {
  it('verifies with the release key and gives back the bundle and its manifest', () => {
    const verified = verifySignedBuild(signBuild(BUNDLE, '2.0.0', release.privateKey), release.publicKey, '2.0.0');
    expect(verified).toMatchObject({ manifest: { version: '2.0.0', size: BUNDLE.length }, bundle: BUNDLE });
  });

  it('is refused when any byte of the bundle or the manifest changed', () => {
    const signed = signBuild(BUNDLE, '2.0.0', release.privateKey);
    const changedBundle = Buffer.from(signed);
    changedBundle[changedBundle.length - 1] ^= 1;
    expect(verifySignedBuild(changedBundle, release.publicKey)).toEqual({
      refused: expect.stringContaining('changed after it was signed'),
    });
    const changedManifest = Buffer.from(signed.toString('latin1').replace('"version":"2.0.0"', '"version":"2.0.1"'), 'latin1');
    expect(verifySignedBuild(changedManifest, release.publicKey)).toEqual({ refused: expect.stringContaining('does not verify') });
  });

  it('refuses a signature no one made and a header that is no manifest', () => {
    expect(verifySignedBuild(Buffer.from('{"manifest":{}}\nbytes'), release.publicKey)).toEqual({ refused: 'the build is not signed' });
    expect(verifySignedBuild(Buffer.from('{"manifest":{"version":"../x"},"signature":"AA"}\n'), release.publicKey)).toEqual({
      refused: expect.stringContaining('not {version, sha256, size, created_at}'),
    });
  });
});

describe('build versions', () => {
  it('are MAJOR.MINOR.PATCH[-pre], nothing a path could use', () => {
    expect(['1.0.0', '0.2.10', '1.0.0-rc.1'].every(isBuildVersion)).toBe(true);
    expect(['1.0', '../1.0.0', '1.0.0/x', '01.0.0', '1.0.0-', '1.0.0 ', ''].some(isBuildVersion)).toBe(false);
  });

  it('order as semantic versioning does', () => {
    const sorted = ['1.0.0', '0.10.0', '1.0.0-rc.2', '0.9.1', '1.0.0-rc.10', '1.0.0-beta'].sort(compareBuildVersions);
    expect(sorted).toEqual(['0.9.1', '0.10.0', '1.0.0-beta', '1.0.0-rc.2', '1.0.0-rc.10', '1.0.0']);
  });
});
