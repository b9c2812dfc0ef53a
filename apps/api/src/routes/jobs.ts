import { Router } from 'express';
import type { JobStatus } from '@fleet/contracts/protocol';
import { authorize } from '../auth/middleware';
import { notFound } from '../errors';
import type { JobClient } from '../jobs/client';
import type { JobStore } from '../jobs/store';

export function jobRoutes(jobs: JobClient, store: JobStore): Router {
  const router = Router();
  router.get('/job', authorize('job:read'), async (req, res) => {
    const { status, operation, target, caller, limit, cursor } = req.query as Record<string, string | undefined>;
    const page = await store.list(
      { status: status as JobStatus | undefined, operation, target, caller },
      Number(limit ?? 50),
      cursor === undefined ? undefined : Number(cursor),
    );
    res.json(page);
  });
  router.get('/job/:job_id', authorize('job:read'), async (req, res) => {
    const job = await jobs.waitFor(String(req.params.job_id), Number(req.query.wait ?? 0) * 1000);
    if (!job) throw notFound('job not found', `no job '${req.params.job_id}' (it may have expired)`);
    res.json(job);
  });
  return router;
}
