import type { Request, Response } from 'express';
import type { OperationSpec } from '@fleet/contracts/operations';
import type { HostRow, Rollout } from '@fleet/contracts/protocol';
import { callerOf, requirePermission, type Caller } from '../../auth/middleware';
import { ApiError, badRequest } from '../../api-error';
import { readableRows } from '../../jobs/access';
import type { JobClient, JobRequest } from '../../jobs/client';
import { REPLAYED_HEADER } from '../../jobs/idempotency';
import { rolloutControls, RolloutParamsError, type RolloutControls } from '../../jobs/rollout-plan';
import type { Rollouts } from '../../jobs/rollout';

/** The call's wave parameters (README "Rollouts"), judged for this operation and caller; undefined for a plain call. */
export function requestedRollout(spec: OperationSpec, req: Request, caller: Caller, streaming: boolean): RolloutControls | undefined {
  const controls = asBadRequest(() => rolloutControls(req.query as Record<string, unknown>));
  if (!controls) return undefined;
  if (streaming || spec.uploadMediaType || spec.downloadMediaType) {
    throw badRequest(`${spec.name} cannot run in waves: a stream or a file transfer is one call on its hosts at once`);
  }
  if (controls.health && !gatesAContainer(spec)) {
    throw badRequest(`a health gate checks the container an operation leaves running; ${spec.name} leaves none to check`);
  }
  // README "Rollouts": the exec gate is an exec in the container, so it needs what an exec needs.
  if (controls.health?.check === 'exec') requirePermission(caller, 'docker:exec', `'health_cmd' runs a command in the container, so it`);
  return controls;
}

/** Wave parameters that contradict each other, or the hosts they are planned on, are the caller's error: 400 with the reason. */
function asBadRequest<T>(plan: () => T): T {
  try {
    return plan();
  } catch (err) {
    if (err instanceof RolloutParamsError) throw badRequest(err.message);
    throw err;
  }
}

/** A container is there to check after the step: the one created, the one a change (not a removal) acted on, a stack's. */
function gatesAContainer(spec: OperationSpec): boolean {
  if (spec.name === 'docker.container.create' || spec.name === 'stack.host.apply') return true;
  return spec.mutating && spec.method !== 'delete' && spec.path.startsWith('/node/{target}/container/docker/{id}');
}

/** `?dry_run=true`: the hosts and the waves, and nothing stored or sent. */
export function answerDryRun(rollouts: Rollouts, request: JobRequest, controls: RolloutControls | undefined, res: Response): void {
  const plan = asBadRequest(() => rollouts.dryRun(request, controls));
  res.status(200).json({ dry_run: true, operation: request.operation, target: request.target, hosts: plan.hosts, rollout: plan.rollout });
}

/** A rollout call's Idempotency-Key, claimed for it: `started` once the rollout is stored, `release` when it could not start. */
export interface RolloutClaim {
  started(): Promise<void>;
  release(): Promise<void>;
}

/**
 * Runs the rollout and answers once it ended: as a plain call when it completed (failures within the budget
 * included), 409 `rollout stopped` when it stopped, so no pipeline reads a stopped rollout as a success.
 */
export async function answerRollout(
  rollouts: Rollouts,
  spec: OperationSpec,
  request: JobRequest,
  controls: RolloutControls,
  res: Response,
  options: { async: boolean; isRevoked: (jti: string) => boolean; claim?: RolloutClaim },
): Promise<void> {
  const caller = callerOf(res);
  const lostAuthority = () => {
    if (options.isRevoked(caller.jti)) return 'the API key that started it was revoked';
    return caller.exp * 1000 <= Date.now() ? 'the API key that started it expired' : undefined;
  };
  const authority = { permissions: [...caller.permissions], expiresAt: caller.exp };
  const starting = (async () => {
    const planned = asBadRequest(() => rollouts.plan(request, controls));
    return rollouts.start({ ...request, health: controls.health, authority }, planned, lostAuthority);
  })();
  const rollout = await starting.catch(async (err: unknown) => {
    await options.claim?.release();
    throw err;
  });
  await options.claim?.started();
  res.locals.jobId = rollout.record.job_id;
  if (options.async) {
    rollout.rows.catch(() => undefined); // the rollout goes on in the background; the caller polls GET /job
    res.status(202).json({ job_id: rollout.record.job_id, status: 'pending' });
    return;
  }
  const rows = await rollout.rows;
  answerEnded(res, spec, rollout.record.job_id, readableRows(caller.permissions, spec.name, rows), rollout.progress());
}

/**
 * A retry of a rollout call whose Idempotency-Key started `jobId`: answered as the first call was, once the rollout
 * ended (from any replica: it is read from the store), or 202 and the job with `async=true`.
 */
export async function answerRolloutReplay(
  jobs: JobClient,
  spec: OperationSpec,
  jobId: string,
  res: Response,
  async: boolean,
): Promise<void> {
  res.locals.jobId = jobId;
  res.set(REPLAYED_HEADER, 'true');
  let job = await jobs.waitFor(jobId, 0);
  // The rollout's last change is stored just after its last rows: read until it says it ended, or its deadline passed.
  while (!async && job?.rollout?.state === 'running' && Date.parse(job.deadline) > Date.now()) {
    job = await jobs.waitFor(jobId, Math.min(REPLAY_POLL_MS, Date.parse(job.deadline) - Date.now()));
    if (job?.rollout?.state === 'running') await new Promise((resolve) => setTimeout(resolve, REPLAY_POLL_MS));
  }
  if (!job?.rollout) {
    const why = `the rollout this Idempotency-Key started (${jobId}) ran and is no longer stored (FLEET_JOB_RETENTION_SECONDS)`;
    throw new ApiError('idempotency_expired', `${why}; it is not run again: send a new key to run it again`);
  }
  if (async) {
    res.status(202).json({ job_id: jobId, status: job.status });
    return;
  }
  answerEnded(res, spec, jobId, readableRows(callerOf(res).permissions, spec.name, job.results), job.rollout);
}

/** How often a replayed rollout call reads the rollout again while it runs. */
const REPLAY_POLL_MS = 1_000;

/**
 * A rollout's answer by its state: 409 when it stopped or was aborted; 202 (a mutation) or 200 when it completed;
 * 202 and the job while another replica carries it on (this one lost its lease), for the caller to poll.
 */
function answerEnded(res: Response, spec: OperationSpec, jobId: string, results: HostRow[], progress: Rollout): void {
  if (progress.state === 'stopped' || progress.state === 'aborted') {
    const reason = progress.state === 'stopped' ? 'rollout_stopped' : 'rollout_aborted';
    const details = progress.stop_reason ?? `rollout ${progress.state}`;
    throw new ApiError(reason, details, { extra: { job_id: jobId, results, rollout: progress } });
  }
  if (progress.state === 'running') {
    res.status(202).json({ job_id: jobId, status: 'running', rollout: progress });
    return;
  }
  res.status(spec.mutating ? 202 : 200).json({ job_id: jobId, results, rollout: progress });
}
