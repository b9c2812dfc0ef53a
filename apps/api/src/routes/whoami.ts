import { callerOf } from '../auth/middleware';
import type { GatewayHandlers } from './operation-table';

/** GET /whoami (contract: whoami.get): the presented key's own claims, nothing else. */
export const whoamiHandler: Pick<GatewayHandlers, 'whoami.get'> = {
  'whoami.get': (_req, res) => {
    const caller = callerOf(res);
    res.json({
      subject: caller.sub,
      role: caller.role,
      permissions: caller.permissions,
      ...(caller.scope ? { scope: caller.scope } : {}),
      key_id: caller.jti,
      expires_at: new Date(caller.exp * 1000).toISOString(),
    });
  },
};
