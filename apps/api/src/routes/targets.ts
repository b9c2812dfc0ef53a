import { callerOf } from '../auth/middleware';
import type { JobClient } from '../jobs/client';
import type { GatewayHandlers } from './operation-table';

/** GET /target/{target} (contract: target.resolve): a target's hosts, resolved as a job would, within the key's scope. */
export function targetHandlers(jobs: JobClient): Pick<GatewayHandlers, 'target.resolve'> {
  return {
    'target.resolve': (req, res) => {
      const target = String(req.params.target);
      res.json({ target, hosts: jobs.previewTarget(target, callerOf(res).scope) });
    },
  };
}
