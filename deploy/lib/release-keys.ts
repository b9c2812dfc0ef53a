import { generateKeyPairSync } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensurePrivateDir, writeSecretFile } from './secret-files';

/** The fleet's release key (README "Upgrading agents"): the private half signs agent builds, the public half checks them. */
export function releaseKeyFiles(dir: string): { privateKey: string; publicKey: string } {
  return { privateKey: join(dir, 'release.key'), publicKey: join(dir, 'release.pub') };
}

/**
 * Makes the Ed25519 release key pair in `dir`: the private key mode 600, for the admin who signs builds
 * and no one else (not the gateway, not an agent); the public key for the gateway and every agent.
 * An existing pair is never replaced: every agent holds its public half.
 */
export function createReleaseKeys(dir: string): { privateKey: string; publicKey: string } {
  const files = releaseKeyFiles(dir);
  if (existsSync(files.privateKey) || existsSync(files.publicKey)) {
    throw new Error(`${dir} holds a release key already; every agent trusts its public half, so it is not replaced`);
  }
  ensurePrivateDir(dir);
  const { privateKey, publicKey } = generateKeyPairSync('ed25519', {
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  writeSecretFile(files.privateKey, privateKey);
  writeFileSync(files.publicKey, publicKey, { mode: 0o644 });
  return files;
}
