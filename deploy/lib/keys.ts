import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { Role } from '@fleet/contracts/permissions';
import { mintToken } from '@fleet/api-keys';

/**
 * Creates the gateway's HS256 secret unless it exists: keeping it across `fleet down`/`up` keeps
 * keys minted earlier valid. No trailing newline, so readers that do not trim agree with us.
 */
export function ensureJwtSecret(file: string): void {
  if (existsSync(file)) return;
  writeFileSync(file, randomBytes(32).toString('hex'), { mode: 0o600 });
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
