import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Secrets on disk (README "Security model"): every file holding a secret is mode 600 in a
 * directory of mode 700. `mode` in mkdir/writeFile only applies to what they create, so an
 * existing directory or file (from an earlier version, or made by hand) is chmod-ed as well.
 */
export function ensurePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
}

export function writeSecretFile(file: string, content: string): void {
  ensurePrivateDir(dirname(file));
  writeFileSync(file, content, { mode: 0o600 });
  chmodSync(file, 0o600);
}
