import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * The launcher's state directory (README "Upgrading agents"), shared by the agent and the stable
 * launcher (apps/agent/launcher.cjs), which is never replaced by an upgrade:
 *
 *   builds/<version>/agent.js   a staged build; `current` names the one the launcher runs
 *   trial.json                  staged by the running agent: run this build on trial
 *   trying.json                 the launcher started it (renamed from trial.json)
 *   confirmed.json              the new build claimed the trial: it runs and reports (renamed from trying.json)
 *   failed.json                 the launcher claimed it failed (renamed from trying.json): the previous build reports why
 *
 * Each decision is a rename of trying.json: exactly one of the new build and the launcher's deadline wins.
 */
export const LAUNCHER_FILES = {
  current: 'current',
  trial: 'trial.json',
  trying: 'trying.json',
  confirmed: 'confirmed.json',
  failed: 'failed.json',
} as const;

/** One upgrade on trial: the job it answers, the version it installs and the one it replaces. */
export interface Trial {
  version: string;
  from: string;
  job_id: string;
  /** The job's deadline (epoch ms): its row is written by then. */
  deadline: number;
  /** Set by the launcher when it failed the trial. */
  reason?: string;
}

export function buildDir(dir: string, version: string): string {
  return join(dir, 'builds', version);
}

/** Writes the bundle as builds/<version>/agent.js: whole or not at all (a directory renamed into place). */
export async function stageBuild(dir: string, version: string, bundle: Buffer): Promise<void> {
  const staging = join(dir, 'builds', `.staging-${version}-${process.pid}`);
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { recursive: true, mode: 0o700 });
  await writeFile(join(staging, 'agent.js'), bundle, { mode: 0o600 });
  await rm(buildDir(dir, version), { recursive: true, force: true });
  await rename(staging, buildDir(dir, version));
}

export async function removeBuild(dir: string, version: string): Promise<void> {
  await rm(buildDir(dir, version), { recursive: true, force: true });
}

export async function writeTrial(dir: string, trial: Trial): Promise<void> {
  await writeAtomically(join(dir, LAUNCHER_FILES.trial), JSON.stringify(trial));
}

/** The launcher's current build: what a confirmed trial makes of its version. */
export async function setCurrent(dir: string, version: string): Promise<void> {
  await writeAtomically(join(dir, LAUNCHER_FILES.current), version);
}

/** Renames `from` to `to`: true for the one caller that moved it, false when it was gone already. */
export async function claim(dir: string, from: string, to: string): Promise<boolean> {
  try {
    await rename(join(dir, from), join(dir, to));
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

export async function readTrial(dir: string, file: string): Promise<Trial | undefined> {
  try {
    return JSON.parse(await readFile(join(dir, file), 'utf8')) as Trial;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

export async function removeFile(dir: string, file: string): Promise<void> {
  await rm(join(dir, file), { force: true });
}

async function writeAtomically(path: string, text: string): Promise<void> {
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, text, { mode: 0o600 });
  await rename(temporary, path);
}
