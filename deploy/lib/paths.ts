import { accessSync, constants } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';

/** The repository root: services are started from here so `--import tsx` and workspace packages resolve. */
export const REPO_ROOT = resolve(__dirname, '..', '..');

export const GATEWAY_ENTRYPOINT = join(REPO_ROOT, 'apps', 'api', 'src', 'main.ts');
export const AGENT_ENTRYPOINT = join(REPO_ROOT, 'apps', 'agent', 'src', 'main.ts');

/** Where `fleet up` keeps its processes' state, logs and data (git-ignored). */
export const LOCAL_FLEET_DIR = join(REPO_ROOT, '.fleet');

/**
 * Finds a system binary. The sbin directories are searched too because Debian puts dockerd and
 * nats-server there and non-login shells often leave them off PATH.
 */
export function findExecutable(name: string): string {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin'];
  for (const dir of dirs.filter(Boolean)) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory; keep looking
    }
  }
  throw new Error(`${name} not found on PATH: run deploy/install-deps.sh (as root) to install it`);
}
