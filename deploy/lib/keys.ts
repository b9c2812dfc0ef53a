import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Role } from '@fleet/contracts/permissions';
import { mintToken } from '@fleet/api-keys';
import { writeSecretFile } from './secret-files';

/**
 * Creates the gateway's HS256 secret unless it exists: keeping it across `fleet down`/`up` keeps
 * keys minted earlier valid. No trailing newline, so readers that do not trim agree with us.
 */
export function ensureJwtSecret(file: string): void {
  if (existsSync(file)) {
    // Kept, but never left readable to others (a secret written by an earlier version).
    chmodSync(file, 0o600);
    return;
  }
  writeSecretFile(file, randomBytes(32).toString('hex'));
}

/** Where a fleet directory keeps the bearer token the gateway's /metrics needs (README "Docs, health and metrics"). */
export function metricsTokenFile(dir: string): string {
  return join(dir, 'metrics-token');
}

/** Creates the /metrics token unless it exists (a scrape config keeps working across `fleet down`/`up`). */
export function ensureMetricsToken(dir: string): void {
  const file = metricsTokenFile(dir);
  if (existsSync(file)) chmodSync(file, 0o600);
  else writeSecretFile(file, randomBytes(32).toString('hex'));
}

/**
 * Where a fleet directory keeps the gateway's key pair: it seals every job message and signs
 * host-access grants (README "What an agent's NATS login can and cannot do", "Host-level access").
 */
export function hostGrantKeyFiles(dir: string): { privateKey: string; publicKey: string } {
  return { privateKey: join(dir, 'host-grant.key'), publicKey: join(dir, 'host-grant.pub') };
}

/**
 * Creates the Ed25519 pair that seals jobs and signs host-access grants unless it exists: the private key only
 * for the gateway (mode 600, like the JWT secret), the public key for every agent.
 */
export function ensureHostGrantKeys(dir: string): void {
  const files = hostGrantKeyFiles(dir);
  if (existsSync(files.privateKey) && existsSync(files.publicKey)) return;
  const { privateKey, publicKey } = generateKeyPairSync('ed25519', {
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  writeSecretFile(files.privateKey, privateKey);
  writeFileSync(files.publicKey, publicKey, { mode: 0o644 });
}

export interface KeyOptions {
  ttlSeconds?: number;
  subject?: string;
  /** Target scope, e.g. `role:web`; an empty one is refused (mintToken), never read as "no scope". */
  scope?: string;
}

/** Mints an API key the gateway using `secretFile` accepts. */
export function mintKey(secretFile: string, role: Role, opts: KeyOptions = {}): string {
  return mintToken({
    secret: readFileSync(secretFile, 'utf8').trim(),
    role,
    ttlSeconds: opts.ttlSeconds ?? 3600,
    subject: opts.subject,
    scope: opts.scope,
  });
}
