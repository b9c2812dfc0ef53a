import { Kvm } from '@nats-io/kv';
import { isBuildVersion } from '@fleet/contracts/agent-build';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { earlyRowSubject, RESULTS_BUCKET, type HostRow } from '@fleet/contracts/protocol';
import { writeRow } from './results-bucket';
import { encodeWithinRowCap } from './row-cap';
import { claim, LAUNCHER_FILES, readTrial, removeBuild, removeFile, setCurrent, type Trial } from './upgrade-state';

export interface UpgradeReportDeps {
  nc: NatsConnection;
  hostname: string;
  version: string;
  launcherDir: string;
  log: Logger;
}

/**
 * Once the agent runs (connected, consuming, registered), the row of an upgrade its launcher tried
 * (README "Upgrading agents"): the new build claims its trial and reports `ok` with its version; the
 * previous build, started again after a failed trial, reports `failed` with the launcher's reason.
 */
export async function reportUpgrade(deps: UpgradeReportDeps): Promise<void> {
  const { launcherDir, version } = deps;
  const trying = await readTrial(launcherDir, LAUNCHER_FILES.trying);
  if (trying?.version === version && (await claim(launcherDir, LAUNCHER_FILES.trying, LAUNCHER_FILES.confirmed))) {
    await setCurrent(launcherDir, version);
    await report(deps, trying, { status: 'ok', changed: true, version, message: `agent upgraded from ${trying.from} to ${version}` });
    await removeFile(launcherDir, LAUNCHER_FILES.confirmed);
    return;
  }
  const failed = await readTrial(launcherDir, LAUNCHER_FILES.failed);
  if (failed) {
    // Its own file, but a name that becomes a path is checked all the same.
    if (isBuildVersion(failed.version)) await removeBuild(launcherDir, failed.version);
    const error = `upgrade to ${failed.version} failed: ${failed.reason ?? 'the new build did not report'}; ${version} runs again`;
    await report(deps, failed, { status: 'failed', changed: false, version, error, error_code: 500 });
    await removeFile(launcherDir, LAUNCHER_FILES.failed);
  }
}

async function report(deps: UpgradeReportDeps, trial: Trial, outcome: Omit<HostRow, 'hostname'>): Promise<void> {
  const { nc, hostname, log } = deps;
  const job = { job_id: trial.job_id, deadline: trial.deadline };
  const { json } = encodeWithinRowCap({ hostname, ...outcome } as HostRow);
  nc.publish(earlyRowSubject(job.job_id, hostname), json);
  const results = await new Kvm(nc).open(RESULTS_BUCKET);
  await writeRow(results, job, hostname, json, 'overwrite', log.child({ job_id: job.job_id }));
  log.info({ job_id: job.job_id, status: outcome.status, version: deps.version }, 'upgrade reported');
}
