import type { components } from './generated';

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
 * Every reason, declared once with its status and title (README "Error reasons"). Typed against the
 * contract's enum: a reason added to one and not the other is a compile error.
 */
export const ERROR_REASONS = {
  validation_failed: { status: 400, title: 'invalid request', meaning: 'the request breaks the contract; `details` names the field' },
  invalid_target: { status: 400, title: 'invalid target', meaning: 'the target is not a hostname, `_any`, `_all` or label selectors' },
  unauthenticated: {
    status: 401,
    title: 'Unauthorized',
    meaning: 'no key, or the key (or join token, or metrics token) is invalid, expired or revoked',
  },
  permission_denied: {
    status: 403,
    title: 'Forbidden - Insufficient permissions',
    meaning: "the key's role lacks the permission `details` names",
  },
  out_of_scope: {
    status: 403,
    title: 'Forbidden - Insufficient permissions',
    meaning: "the call reaches beyond the key's scope (or the join token's host)",
  },
  host_access_off: {
    status: 403,
    title: 'Forbidden - host access is off',
    meaning: 'the request reaches the host and this gateway signs no host grants',
  },
  host_refused: { status: 403, title: 'host refused', meaning: "the single targeted host's agent refused the job (grant, host paths)" },
  not_found: { status: 404, title: 'not found', meaning: 'no such route, job, agent, Engine endpoint or (single host) object' },
  target_empty: { status: 404, title: 'no agent matches target', meaning: "no live agent inside the key's scope matches the target" },
  method_not_allowed: {
    status: 405,
    title: 'method not allowed',
    meaning: 'the path exists with other methods (`Allow` names them)',
  },
  conflict: { status: 409, title: 'Conflict', meaning: 'the state forbids it: a name in use, a spent join token, a single host refusing' },
  session_gone: { status: 410, title: 'session gone', meaning: "an Engine API session the host's agent no longer holds (it restarted)" },
  payload_too_large: { status: 413, title: 'request body too large', meaning: 'the body exceeds FLEET_BODY_LIMIT or the upload limit' },
  unsupported_media_type: {
    status: 415,
    title: 'unsupported media type',
    meaning: 'the body is not of the media type the operation takes',
  },
  rate_limited: { status: 429, title: 'Too Many Requests', meaning: 'the key made too many calls this minute; retry after `Retry-After`' },
  long_running_limit: {
    status: 429,
    title: 'Too Many Requests',
    meaning: 'the key holds as many long-running calls as it may; retry after `Retry-After`',
  },
  auth_rate_limited: {
    status: 429,
    title: 'Too Many Requests',
    meaning: 'too many failed authentications from this address; retry after `Retry-After`',
  },
  client_closed: { status: 499, title: 'client gone', meaning: 'the client went away before the answer' },
  internal_error: { status: 500, title: 'internal error', meaning: 'a fault of the gateway itself; its log has the cause' },
  engine_error: { status: 500, title: 'operation failed', meaning: "the single targeted host's engine failed the operation" },
  not_supported: { status: 501, title: 'not supported', meaning: "the single targeted host's agent does not know the operation" },
  engine_unavailable: {
    status: 502,
    title: 'bad gateway',
    meaning: "a host's engine or agent did not answer as it should (unreachable, malformed, no file)",
  },
  broker_unavailable: { status: 503, title: 'broker unavailable', meaning: 'NATS JetStream did not answer in time; retry shortly' },
  job_store_unavailable: { status: 503, title: 'job store unavailable', meaning: 'the job could not be stored, so it was sent to no host' },
  audit_full: { status: 503, title: 'audit full', meaning: 'the audit stream is full: changes are refused, reads answered' },
  not_ready: { status: 503, title: 'not ready', meaning: 'GET /health/ready: NATS or the agents bucket is down' },
  dashboard_not_built: { status: 503, title: 'dashboard not built', meaning: 'GET /ui: the dashboard was not built' },
  gateway_stopping: {
    status: 503,
    title: 'gateway stopping',
    meaning: "the gateway (or, for an Engine API session, the host's agent) is stopping",
  },
  deadline_exceeded: { status: 504, title: 'deadline exceeded', meaning: 'the single targeted host did not finish by the deadline' },
  result_too_large: { status: 507, title: 'result too large', meaning: "the single targeted host's result exceeds a row's size" },
  upload_store_unavailable: { status: 507, title: 'upload store unavailable', meaning: 'the uploaded file could not be stored' },
} as const satisfies Record<ErrorReason, ReasonEntry>;

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
