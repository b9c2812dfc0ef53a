import { Router } from 'express';
import { authorize, callerOf } from '../auth/middleware';

/** GET /whoami (contract: whoami.get): the presented key's own claims, nothing else. */
export function whoamiRoutes(): Router {
  const router = Router();
  router.get('/whoami', authorize('none'), (_req, res) => {
    const caller = callerOf(res);
    res.json({
      subject: caller.sub,
      role: caller.role,
      permissions: caller.permissions,
      ...(caller.scope ? { scope: caller.scope } : {}),
      key_id: caller.jti,
      expires_at: new Date(caller.exp * 1000).toISOString(),
    });
  });
  return router;
}
