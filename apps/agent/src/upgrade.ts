import type { KeyObject } from 'node:crypto';
import { BUILD_MAX_BYTES, compareBuildVersions, isBuildVersion, verifySignedBuild, type SignedBuild } from '@fleet/contracts/agent-build';
import type { Executor } from './executors/types';
import { stageBuild, writeTrial } from './upgrade-state';

/** What an agent needs to upgrade itself (README "Upgrading agents"). */
export interface UpgradeSettings {
  /** The version it runs. */
  version: string;
  /** Its own copy of the fleet's release public key (FLEET_RELEASE_PUBLIC_KEY): never one that came with a build. */
  releaseKey?: KeyObject;
  /** The launcher's state directory (FLEET_LAUNCHER_DIR), set by the launcher that runs it. */
  launcherDir?: string;
  /** Stops the agent cleanly, so its launcher starts the staged build. */
  restart(): void;
}

/** A build this agent will not stage: the row says why, and nothing is staged. */
class UpgradeRefusedError extends Error {
  override readonly name = 'UpgradeRefusedError';
  // A refusal by the host, answered as a conflict (engine.ts: describeEngineError).
  readonly statusCode = 409;
}

/**
 * `docker.agent.upgrade` on this host: reads the job's build from the gateway, checks it with its own
 * release key, stages it beside the one it runs and hands over to its launcher, which starts it on
 * trial. This process writes no row: the new build writes `ok` once it runs, or, when it does not in
 * time, the launcher starts this build again and it writes `failed` with why (upgrade-report.ts).
 */
export function upgradeExecutor(settings: UpgradeSettings): Executor<'docker.agent.upgrade'> {
  return async ({ body }, ctx) => {
    const { releaseKey, launcherDir } = settings;
    if (!launcherDir) throw new UpgradeRefusedError('this agent cannot upgrade itself: it was started without its launcher');
    if (!releaseKey)
      throw new UpgradeRefusedError('this agent has no release public key (FLEET_RELEASE_PUBLIC_KEY_FILE): it stages no build');
    const version = body.version;
    if (!isBuildVersion(version)) throw new UpgradeRefusedError('the version is not MAJOR.MINOR.PATCH[-pre]');
    if (compareBuildVersions(version, settings.version) <= 0) {
      throw new UpgradeRefusedError(`build ${version} is not newer than the running ${settings.version}: no downgrade`);
    }
    const build = verified(await readAtMost(ctx.upload(), BUILD_MAX_BYTES + 4096), releaseKey, version);
    await stageBuild(launcherDir, version, build.bundle);
    await writeTrial(launcherDir, { version, from: settings.version, job_id: ctx.jobId, deadline: ctx.deadline });
    ctx.log.warn({ version, from: settings.version, sha256: build.manifest.sha256 }, 'build staged; restarting into it on trial');
    settings.restart();
    // Never settles: the row is the new build's (or the previous one's, after a failed trial).
    return new Promise<never>(() => undefined);
  };
}

function verified(file: Buffer, releaseKey: KeyObject, version: string): SignedBuild {
  const build = verifySignedBuild(file, releaseKey, version);
  if ('refused' in build) throw new UpgradeRefusedError(`build ${version} refused: ${build.refused}`);
  return build;
}

async function readAtMost(stream: NodeJS.ReadableStream, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > limit) throw new UpgradeRefusedError(`the build is larger than ${limit} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}
