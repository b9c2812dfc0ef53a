import type { Request, Response } from 'express';
import type { OperationSpec } from '@fleet/contracts/operations';
import { callerOf, requirePermission, type Caller } from '../../auth/middleware';
import { ApiError, badRequest } from '../../api-error';
import { readableRows } from '../../jobs/access';
import type { JobRequest } from '../../jobs/client';
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

/** A container is there to check after the step: the one created, or the one a change (not a removal) acted on. */
function gatesAContainer(spec: OperationSpec): boolean {
  if (spec.name === 'docker.container.create') return true;
  return spec.mutating && spec.method !== 'delete' && spec.path.startsWith('/node/{target}/container/docker/{id}');
}

/** `?dry_run=true`: the hosts and the waves, and nothing stored or sent. */
export function answerDryRun(rollouts: Rollouts, request: JobRequest, controls: RolloutControls | undefined, res: Response): void {
  const plan = asBadRequest(() => rollouts.dryRun(request, controls));
  res.status(200).json({ dry_run: true, operation: request.operation, target: request.target, hosts: plan.hosts, rollout: plan.rollout });
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
  options: { async: boolean; isRevoked: (jti: string) => boolean },
): Promise<void> {
  const planned = asBadRequest(() => rollouts.plan(request, controls));
  const caller = callerOf(res);
  const lostAuthority = () => {
    if (options.isRevoked(caller.jti)) return 'the API key that started it was revoked';
    return caller.exp * 1000 <= Date.now() ? 'the API key that started it expired' : undefined;
  };
  const rollout = await rollouts.start({ ...request, health: controls.health }, planned, lostAuthority);
  res.locals.jobId = rollout.record.job_id;
  if (options.async) {
    rollout.rows.catch(() => undefined); // the rollout goes on in the background; the caller polls GET /job
    res.status(202).json({ job_id: rollout.record.job_id, status: 'pending' });
    return;
  }
  const rows = await rollout.rows;
  const results = readableRows(callerOf(res).permissions, spec.name, rows);
  const progress = rollout.progress();
  if (progress.state === 'stopped' || progress.state === 'aborted') {
    const reason = progress.state === 'stopped' ? 'rollout_stopped' : 'rollout_aborted';
    const details = progress.stop_reason ?? `rollout ${progress.state}`;
    throw new ApiError(reason, details, { extra: { job_id: rollout.record.job_id, results, rollout: progress } });
  }
  res.status(spec.mutating ? 202 : 200).json({ job_id: rollout.record.job_id, results, rollout: progress });
}
