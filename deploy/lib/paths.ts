import { accessSync, constants, existsSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';

/**
 * The repository root: the nearest directory above this code holding package-lock.json (npm workspaces keep
 * one, at the root). Looked up rather than counted in `..` steps because this code runs from deploy/lib as
 * TypeScript and from dist/ inside the built CLI.
 */
export const REPO_ROOT = findRepoRoot(__dirname);

function findRepoRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package-lock.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package-lock.json above ${from}: not inside the fleet repository`);
  }
}

/** The compiled programs (`npm run build`): what `fleet up`, the tests and the bench run. */
export const DIST_DIR = join(REPO_ROOT, 'dist');
export const GATEWAY_ENTRYPOINT = join(DIST_DIR, 'gateway.js');
export const AGENT_ENTRYPOINT = join(DIST_DIR, 'agent.js');

/** Where `fleet up` keeps its processes' state, logs and data (git-ignored); FLEET_LOCAL_DIR puts it elsewhere. */
export const LOCAL_FLEET_DIR = process.env.FLEET_LOCAL_DIR || join(REPO_ROOT, '.fleet');

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
