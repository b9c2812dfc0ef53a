import { Router } from 'express';
import { authorize, callerOf } from '../auth/middleware';
import type { Revocations } from '../auth/revocations';

/** Keys are minted offline by the CLI; the gateway only needs to refuse revoked ones. */
export function tokenRoutes(revocations: Revocations): Router {
  const router = Router();
  router.delete('/token/:jti', authorize('token:admin'), async (req, res) => {
    const jti = String(req.params.jti);
    await revocations.revoke(jti, callerOf(res).sub);
    res.json({ jti, revoked: true });
  });
  return router;
}
