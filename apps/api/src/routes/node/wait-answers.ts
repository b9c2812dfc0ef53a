import type { Request } from 'express';
import type { OperationSpec } from '@fleet/contracts/operations';
import { ApiError } from '../../api-error';

/**
 * `?wait_for_host=` (README "Jobs that wait for a host"), judged for this call: the seconds to wait, or undefined for
 * a call that waits for no host. What cannot wait is refused here; the job client refuses what it cannot keep.
 */
export function requestedWait(spec: OperationSpec, req: Request, streaming: boolean, rollout: unknown): number | undefined {
  // The validator has coerced it to an integer within the contract's bounds.
  const seconds = req.query.wait_for_host;
  if (seconds === undefined) return undefined;
  if (rollout !== undefined || String(req.query.dry_run) === 'true') {
    throw new ApiError(
      'wait_refused',
      'wait_for_host cannot be combined with a rollout or a dry run: a waiting job reaches each host as it appears',
    );
  }
  if (streaming || spec.uploadMediaType || spec.downloadMediaType) {
    throw new ApiError('wait_refused', `${spec.name} cannot wait for hosts: a stream or a file transfer is answered to its caller, now`);
  }
  return Number(seconds);
}
