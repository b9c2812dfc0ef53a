import type { Logger } from 'pino';
import { nodeOperationHostAccess, type AccessPolicy } from '@fleet/contracts/host-access';
import { findOperation, type NodeOperationName } from '@fleet/contracts/operations';
import type { HostRow, JobRecord, JobReplay } from '@fleet/contracts/protocol';
import { requirePermission, type Caller } from '../auth/middleware';
import { ApiError } from '../api-error';
import type { JobClient, JobRequest, StartedJob } from './client';
import type { JobStore } from './store';

/** Which hosts of the original a rerun takes (the contract's `hosts` of job.rerun). */
export type RerunChoice = 'failed' | 'skipped' | 'timeout' | 'all';

/** The row's error_code of a host that missed its deadline. */
const TIMEOUT_CODE = 504;

/** The hosts of `rows` a rerun with `choice` takes, in row order. */
export function hostsToRerun(rows: readonly HostRow[], choice: RerunChoice): string[] {
  const chosen = {
    failed: (row: HostRow) => row.status === 'failed',
    timeout: (row: HostRow) => row.status === 'failed' && row.error_code === TIMEOUT_CODE,
    skipped: (row: HostRow) => row.status === 'skipped',
    all: () => true,
  }[choice];
  return rows.filter(chosen).map((row) => row.hostname);
}

/**
 * POST /job/{job_id}/rerun: the original's operation and parameters, started again by the caller on
 * the chosen hosts, with every check the caller's own call would pass now (README "Rerunning a job").
 */
export class Reruns {
  constructor(
    private readonly jobs: JobClient,
    private readonly store: JobStore,
    private readonly accessPolicy: AccessPolicy,
    private readonly log: Logger,
  ) {}

  /**
   * `visible` is the original as the caller may read it (JobReadAccess.check): only its hosts are
   * rerun, so a scoped key reruns inside its scope only.
   */
  async start(
    caller: Caller,
    visible: JobRecord,
    replay: JobReplay | undefined,
    choice: RerunChoice,
    timeoutSeconds?: number,
  ): Promise<StartedJob> {
    const spec = findOperation(visible.operation);
    if (!spec?.nodeTargeted) throw conflict(visible, `its operation '${visible.operation}' is no longer a node operation`);
    const name = spec.name as NodeOperationName;
    requirePermission(caller, spec.permission as Exclude<typeof spec.permission, 'none'>, `rerunning a ${name} job`);
    if (!replay) throw conflict(visible, 'it was stored before reruns existed, without its parameters');
    if ('refused' in replay) throw conflict(visible, replay.refused);
    const hostAccess = nodeOperationHostAccess(name, replay.params, this.accessPolicy);
    if (hostAccess.length > 0) {
      const reasons = hostAccess.map((access) => access.reason).join('; ');
      requirePermission(caller, spec.hostPermission ?? 'docker:host', `this request reaches the host (${reasons}), so rerunning it`);
    }
    const hosts = hostsToRerun((await this.store.view(visible)).results, choice);
    if (hosts.length === 0) {
      const why = `no host of job ${visible.job_id} that this key may see is ${choice}`;
      throw new ApiError('nothing_to_rerun', `${why} (it shows this key ${visible.hosts.length} host(s) in all)`);
    }
    const request: JobRequest = {
      operation: name,
      target: visible.target,
      hosts,
      rerunOf: visible.job_id,
      params: replay.params,
      hostAccess: hostAccess.length > 0,
      callerHost: caller.permissions.includes('docker:host'),
      longRunning: spec.longRunning,
      timeoutSeconds: timeoutSeconds ?? replay.timeout_seconds,
      caller: caller.sub,
      keyId: caller.jti,
      scope: caller.scope,
    };
    const job = await this.jobs.start(request);
    // The new job names its original already; the link back is best effort and said so in the log.
    await this.store.linkRerun(visible.job_id, job.record.job_id).catch((err: Error) => {
      this.log.warn({ job_id: visible.job_id, rerun: job.record.job_id, err: err.message }, 'rerun not linked from its original');
    });
    return job;
  }
}

function conflict(record: JobRecord, why: string): ApiError {
  return new ApiError('not_rerunnable', `job ${record.job_id} cannot be rerun: ${why}; call ${record.operation} again instead`);
}
