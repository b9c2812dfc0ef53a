import type { components } from './generated';
import { CONTRACT, type Document } from './operations';

/** Why a call failed: the contract's `ErrorReason` enum, the field of every error body a client switches on. */
export type ErrorReason = components['schemas']['ErrorReason'];

export interface ReasonEntry {
  /** The HTTP status every answer with this reason has. */
  status: number;
  /** The body's `error` unless the answer names its own (`agent not found`, `job not found`, …). */
  title: string;
  /** What it means, as README "Error reasons" lists it. */
  meaning: string;
}

/**
 * Every reason, declared once in the contract (`ErrorReason`'s `x-reasons`) with its status and title,
 * as fastify's createError declares an error. A contract whose `x-reasons` and enum differ is refused.
 */
export const ERROR_REASONS: Readonly<Record<ErrorReason, ReasonEntry>> = readReasons(CONTRACT as Document);

function readReasons(contract: Document): Record<ErrorReason, ReasonEntry> {
  const schema = contract.components?.schemas?.ErrorReason as { enum: string[]; 'x-reasons'?: Record<string, ReasonEntry> };
  const reasons = schema['x-reasons'] ?? {};
  const declared = Object.keys(reasons);
  const differ = [
    ...schema.enum.filter((reason) => !declared.includes(reason)),
    ...declared.filter((reason) => !schema.enum.includes(reason)),
  ];
  if (differ.length > 0) throw new Error(`contract: ErrorReason's enum and x-reasons differ on ${differ.join(', ')}`);
  return reasons as Record<ErrorReason, ReasonEntry>;
}

/** The reason a failure known only by its status has (the body parser's, an agent's): one per status. */
const REASON_OF_STATUS: Readonly<Record<number, ErrorReason>> = {
  400: 'validation_failed',
  401: 'unauthenticated',
  403: 'permission_denied',
  404: 'not_found',
  405: 'method_not_allowed',
  409: 'conflict',
  410: 'session_gone',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  429: 'rate_limited',
  499: 'client_closed',
  500: 'internal_error',
  501: 'not_supported',
  502: 'engine_unavailable',
  503: 'gateway_stopping',
  504: 'deadline_exceeded',
  507: 'upload_store_unavailable',
};

/** A host's failed row answered as the call's error: what its `error_code` means when a host says it. */
const REASON_OF_HOST_STATUS: Readonly<Record<number, ErrorReason>> = {
  403: 'host_refused',
  500: 'engine_error',
  // The gateway's own row for a job the broker would not deliver to the host.
  503: 'broker_unavailable',
  507: 'result_too_large',
};

export function reasonOfStatus(status: number): ErrorReason {
  return REASON_OF_STATUS[status] ?? 'internal_error';
}

export function reasonOfHostStatus(status: number): ErrorReason {
  return REASON_OF_HOST_STATUS[status] ?? reasonOfStatus(status);
}

/** An Engine API session ended before its head, by the host's agent (403: it refused) or by the tunnel. */
export function reasonOfProxyAbort(status: number): ErrorReason {
  return status === 403 ? 'host_refused' : reasonOfStatus(status);
}

export function isErrorReason(value: unknown): value is ErrorReason {
  return typeof value === 'string' && Object.hasOwn(ERROR_REASONS, value);
}
