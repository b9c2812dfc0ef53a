import { Router } from 'express';
import type { RolloutControl } from '@fleet/contracts/protocol';
import { authorize, callerOf } from '../auth/middleware';
import { ApiError, notFound } from '../errors';
import { JobReadAccess } from '../jobs/access';
import type { JobClient } from '../jobs/client';
import type { JobStore } from '../jobs/store';
import { KeyScope, type LabelSource } from '../targets/scope';

const ACTIONS: ReadonlyArray<RolloutControl['action']> = ['pause', 'resume', 'abort'];

/**
 * `POST /job/{job_id}/pause|resume|abort` (README "Rollouts"), through any replica: the one running the rollout
 * takes it. Only a key that could have started the rollout may steer it: the permission of the job's operation,
 * and a scope covering every one of its hosts.
 */
export function rolloutControlRoutes(jobs: JobClient, store: JobStore, labels: LabelSource): Router {
  const router = Router();
  for (const action of ACTIONS) {
    router.post(`/job/:job_id/${action}`, authorize('docker:write'), async (req, res) => {
      const caller = callerOf(res);
      const jobId = String(req.params.job_id);
      const record = await store.getRecord(jobId);
      if (!record) throw notFound('job not found', `no job '${jobId}' (it may have expired)`);
      // 404 outside the scope, 403 without the operation's permission: as reading it.
      const access = new JobReadAccess(caller.permissions, KeyScope.of(caller.scope, labels));
      if (access.check(record).hosts.length !== record.hosts.length) {
        throw new ApiError(403, 'Forbidden - Insufficient permissions', `the rollout reaches hosts outside this key's scope '${caller.scope}', so it may not ${action} it`);
      }
      if (!record.rollout) throw new ApiError(409, 'not a rollout', `job '${jobId}' ran on every host at once: there is nothing to ${action}`);
      const reply = await jobs.controlRollout(jobId, { action, by: caller.sub });
      if (!reply) throw new ApiError(409, 'rollout not running', `no gateway runs rollout '${jobId}': it has ended, or the gateway running it is gone`);
      if ('refused' in reply) throw new ApiError(409, 'rollout not running', reply.refused);
      res.json({ job_id: jobId, rollout: reply.rollout });
    });
  }
  return router;
}
