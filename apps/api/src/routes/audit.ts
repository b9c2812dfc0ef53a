import type { AuditLog } from '../audit/log';
import { callerOf } from '../auth/middleware';
import { KeyScope, type LabelSource } from '../targets/scope';
import type { GatewayHandlers } from './operation-table';

/**
 * A scoped key reads only the entries whose target lies wholly inside its scope (a hostname
 * inside it, or selectors at least as narrow); entries without a target, or for `_all`/`_any`,
 * are fleet-wide and need an unscoped key (README "Security model").
 */
export function auditHandlers(audit: AuditLog, labels: LabelSource): Pick<GatewayHandlers, 'audit.list'> {
  return {
    'audit.list': async (req, res) => {
      const { caller, method, status, target, job_id, limit, cursor } = req.query as Record<string, string | undefined>;
      const scope = KeyScope.of(callerOf(res).scope, labels);
      const visible = scope.unscoped
        ? undefined
        : (entry: { target: string | null }) => entry.target !== null && scope.coversTarget(entry.target);
      const page = await audit.list(
        { caller, method, status: status === undefined ? undefined : Number(status), target, job_id, visible },
        Number(limit ?? 50),
        cursor === undefined ? undefined : Number(cursor),
      );
      res.json({ entries: page.items, ...(page.next_cursor ? { next_cursor: page.next_cursor } : {}) });
    },
  };
}
