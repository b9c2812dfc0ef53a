import type { RequestHandler } from 'express';
import type { RolloutControl } from '@fleet/contracts/protocol';
import { callerOf } from '../auth/middleware';
import { ApiError, notFound } from '../api-error';
import { JobReadAccess } from '../jobs/access';
import type { JobClient } from '../jobs/client';
import type { JobStore } from '../jobs/store';
import { KeyScope, type LabelSource } from '../targets/scope';
import type { GatewayHandlers } from './operation-table';

/**
 * `POST /job/{job_id}/pause|resume|abort` (README "Rollouts"), through any replica: the one running the rollout
 * takes it. Only a key that could have started the rollout may steer it: the permission of the job's operation,
 * and a scope covering every one of its hosts.
 */
export function rolloutControlHandlers(
  jobs: JobClient,
  store: JobStore,
  labels: LabelSource,
): Pick<GatewayHandlers, 'job.pause' | 'job.resume' | 'job.abort'> {
  const control =
    (action: RolloutControl['action']): RequestHandler =>
    async (req, res) => {
      const caller = callerOf(res);
      const jobId = String(req.params.job_id);
      const record = await store.getRecord(jobId);
      if (!record) throw notFound('job not found', `no job '${jobId}' (it may have expired)`);
      // 404 outside the scope, 403 without the operation's permission: as reading it.
      const access = new JobReadAccess(caller.permissions, KeyScope.of(caller.scope, labels));
      if (access.check(record).hosts.length !== record.hosts.length) {
        throw new ApiError(
          'out_of_scope',
          `the rollout reaches hosts outside this key's scope '${caller.scope}', so it may not ${action} it`,
        );
      }
      if (!record.rollout) throw new ApiError('not_a_rollout', `job '${jobId}' ran on every host at once: there is nothing to ${action}`);
      const reply = await jobs.controlRollout(jobId, { action, by: caller.sub });
      if (!reply) {
        throw new ApiError('rollout_not_running', `no gateway runs rollout '${jobId}': it has ended, or the gateway running it is gone`);
      }
      if ('refused' in reply) throw new ApiError('rollout_not_running', reply.refused);
      res.json({ job_id: jobId, rollout: reply.rollout });
    };
  return { 'job.pause': control('pause'), 'job.resume': control('resume'), 'job.abort': control('abort') };
}
