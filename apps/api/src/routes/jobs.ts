import type { Response } from 'express';
import type { JobStatus } from '@fleet/contracts/protocol';
import { callerOf } from '../auth/middleware';
import { notFound } from '../api-error';
import { JobReadAccess, readableRows } from '../jobs/access';
import type { JobClient } from '../jobs/client';
import type { RerunChoice, Reruns } from '../jobs/rerun';
import type { JobStore } from '../jobs/store';
import { KeyScope, type LabelSource } from '../targets/scope';
import type { GatewayHandlers } from './operation-table';

/** Job reads show a key only what it could have run: see JobReadAccess. */
export function jobHandlers(
  jobs: JobClient,
  store: JobStore,
  labels: LabelSource,
  reruns: Reruns,
): Pick<GatewayHandlers, 'job.list' | 'job.get' | 'job.rerun'> {
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
    // README "Rerunning a job": the caller must read the original, then pass every check of the call itself.
    'job.rerun': async (req, res) => {
      const caller = callerOf(res);
      const stored = await store.getRecord(String(req.params.job_id));
      if (!stored) throw notFound('job not found', `no job '${req.params.job_id}' (it may have expired)`);
      const visible = accessOf(res).check(stored);
      const { hosts, timeout } = req.query as Record<string, string | undefined>;
      const timeoutSeconds = timeout === undefined ? undefined : Number(timeout);
      const job = await reruns.start(caller, visible, stored.replay, (hosts ?? 'failed') as RerunChoice, timeoutSeconds);
      res.locals.jobId = job.record.job_id;
      if (String(req.query.async) === 'true' || /\brespond-async\b/i.test(req.get('prefer') ?? '')) {
        job.rows.catch(() => undefined); // collected in the background; the caller polls GET /job
        res.status(202).json({ job_id: job.record.job_id, status: 'pending' });
        return;
      }
      res.status(202).json({ job_id: job.record.job_id, results: readableRows(caller.permissions, job.record.operation, await job.rows) });
    },
  };
}
