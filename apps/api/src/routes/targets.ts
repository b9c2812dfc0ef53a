import { Router } from 'express';
import { authorize, callerOf } from '../auth/middleware';
import type { JobClient } from '../jobs/client';

/** GET /target/{target} (contract: target.resolve): a target's hosts, resolved as a job would, within the key's scope. */
export function targetRoutes(jobs: JobClient): Router {
  const router = Router();
  router.get('/target/:target', authorize('agent:read'), (req, res) => {
    const target = String(req.params.target);
    res.json({ target, hosts: jobs.previewTarget(target, callerOf(res).scope) });
  });
  return router;
}
