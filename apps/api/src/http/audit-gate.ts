import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { ApiError } from '../api-error';

/** Calls that only read: answered while the audit is full, their entries refused and counted (README "Security model"). */
const READ_METHODS = new Set(['GET', 'HEAD']);
/** Revoking a key takes power away; refusing it while the audit is full would keep a leaked key working. */
const REVOCATION = /^\/token\/[^/?]+\/?(?:\?|$)/;

/**
 * Fails closed while the audit stream is full: a call that may change something and could not be audited is
 * refused with 503 before anything happens, saying what the operator must do; reads are still answered.
 * `answer` sends the refusal (the Engine API proxy's in the shape its clients print); by default the error handler does.
 */
export function refuseChangesWhileAuditFull(
  isFull: () => boolean,
  answer: (err: ApiError, req: Request, res: Response, next: NextFunction) => void = (err, _req, _res, next) => next(err),
): RequestHandler {
  return (req, res, next) => {
    if (!isFull() || READ_METHODS.has(req.method) || (req.method === 'DELETE' && REVOCATION.test(req.url))) {
      next();
      return;
    }
    const err = new ApiError(
      'audit_full',
      'the audit trail (stream FLEET_AUDIT) is full, so this call, which may change something, cannot be recorded and is refused; reads ' +
        'are still answered. ' +
        'An operator must raise FLEET_AUDIT_MAX_BYTES / FLEET_AUDIT_MAX_MESSAGES, or archive the stream and purge it',
      { headers: { 'retry-after': '60' } },
    );
    answer(err, req, res, next);
  };
}
