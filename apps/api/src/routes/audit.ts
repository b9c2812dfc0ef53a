import { Router } from 'express';
import type { AuditLog } from '../audit/log';
import { authorize } from '../auth/middleware';

export function auditRoutes(audit: AuditLog): Router {
  const router = Router();
  router.get('/audit', authorize('audit:read'), async (req, res) => {
    const { caller, method, status, target, job_id, limit, cursor } = req.query as Record<string, string | undefined>;
    const page = await audit.list(
      { caller, method, status: status === undefined ? undefined : Number(status), target, job_id },
      Number(limit ?? 50),
      cursor === undefined ? undefined : Number(cursor),
    );
    res.json({ entries: page.items, ...(page.next_cursor ? { next_cursor: page.next_cursor } : {}) });
  });
  return router;
}
