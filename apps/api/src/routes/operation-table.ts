import type { RequestHandler, Router } from 'express';
import { OPERATIONS, type GatewayOperationName, type OperationSpec } from '@fleet/contracts/operations';
import { authorize } from '../auth/middleware';
import { compareBySpecificity, expressPath } from './node/route-order';

/**
 * The handler of every gateway operation, keyed by its operationId: an operation of the contract
 * without a handler, or a handler of no operation, is a compile error. Path, method, validation
 * and permission are the contract's; a handler holds only what the operation does.
 */
export type GatewayHandlers = { readonly [Name in GatewayOperationName]: RequestHandler };

/** The gateway's operations, most specific path first (`/agent/join` before `/agent/{hostname}`), as express must try them. */
export const GATEWAY_OPERATIONS: readonly OperationSpec[] = OPERATIONS.filter((op) => !op.nodeTargeted).sort((a, b) =>
  compareBySpecificity(a.path, b.path),
);

/**
 * Mounts the operations `which` selects, each on its contract path and method: `checks(spec)`
 * (the contract's validation) first, then the contract's `x-permission`, then its handler.
 */
export function mountGatewayOperations(
  router: Router,
  handlers: GatewayHandlers,
  which: (spec: OperationSpec) => boolean,
  checks: (spec: OperationSpec) => RequestHandler[],
): void {
  for (const spec of GATEWAY_OPERATIONS.filter(which)) {
    router[spec.method](expressPath(spec.path), ...checks(spec), authorize(spec.permission), handlers[spec.name as GatewayOperationName]);
  }
}
