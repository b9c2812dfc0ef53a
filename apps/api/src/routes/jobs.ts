import type { Response } from 'express';
import type { JobStatus } from '@fleet/contracts/protocol';
import { callerOf } from '../auth/middleware';
import { notFound } from '../api-error';
import { JobReadAccess } from '../jobs/access';
import type { JobClient } from '../jobs/client';
import type { JobStore } from '../jobs/store';
import { KeyScope, type LabelSource } from '../targets/scope';
import type { GatewayHandlers } from './operation-table';

/** Job reads show a key only what it could have run: see JobReadAccess. */
export function jobHandlers(jobs: JobClient, store: JobStore, labels: LabelSource): Pick<GatewayHandlers, 'job.list' | 'job.get'> {
  const accessOf = (res: Response) => new JobReadAccess(callerOf(res).permissions, KeyScope.of(callerOf(res).scope, labels));
  return {
    'job.list': async (req, res) => {
      const { status, operation, target, caller, limit, cursor } = req.query as Record<string, string | undefined>;
      const access = accessOf(res);
      const page = await store.list(
        { status: status as JobStatus | undefined, operation, target, caller, readable: (record) => access.filter(record) },
        Number(limit ?? 50),
        cursor === undefined ? undefined : Number(cursor),
      );
      res.json({ ...page, jobs: page.jobs.map((job) => access.present(job)) });
    },
    'job.get': async (req, res) => {
      const access = accessOf(res);
      const job = await jobs.waitFor(String(req.params.job_id), Number(req.query.wait ?? 0) * 1000, (record) => access.check(record));
      if (!job) throw notFound('job not found', `no job '${req.params.job_id}' (it may have expired)`);
      res.json(access.present(job));
    },
  };
}
