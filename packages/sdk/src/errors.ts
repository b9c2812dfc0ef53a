import type { components } from '@fleet/contracts';

/** The contract's error body: every non-2xx answer is `{error, details, code, reason}`, all four filled. */
export type ErrorBody = components['schemas']['Error'];

/** Why a call failed, stable across releases: what a caller switches on (README "Error reasons"). */
export type FleetErrorReason = components['schemas']['ErrorReason'];

/** A non-2xx answer from the gateway. Subclasses name the statuses a caller usually handles. */
export class FleetApiError extends Error {
  /** The HTTP status. */
  readonly status: number;
  /** The body's `error` (a short description). */
  readonly error: string;
  /** The body's `details` (e.g. which field, permission or target was wrong). */
  readonly details: string;
  /** The body's `code` (the HTTP status the gateway meant). */
  readonly code: number;
  /** The body's `reason`; undefined when the answer was not the gateway's own (a proxy in between). */
  readonly reason?: FleetErrorReason;
  /** Set when the error is a single-host job's failed row (the job exists, its only host failed). */
  readonly jobId?: string;
  /** The response body as received (parsed JSON, or text when it was not JSON). */
  readonly body: unknown;

  constructor(status: number, body: unknown) {
    const parsed = asErrorBody(body);
    const error = parsed?.error ?? (typeof body === 'string' && body !== '' ? body : `HTTP ${status}`);
    const details = parsed?.details ?? '';
    super(details && !error.includes(details) ? `${error}: ${details}` : error);
    this.name = new.target.name;
    this.status = status;
    this.error = error;
    this.details = details;
    this.code = parsed?.code ?? status;
    this.reason = parsed?.reason;
    this.jobId = parsed?.job_id;
    this.body = body;
  }
}

/** 400: invalid input; `details` names the field or the bad part of a target. */
export class BadRequestError extends FleetApiError {}
/** 401: no key, or the key is invalid, expired or revoked. */
export class UnauthorizedError extends FleetApiError {}
/** 403: the key lacks a permission (named in `details`) or the target is outside its scope. */
export class ForbiddenError extends FleetApiError {}
/** 404: no agent matches the target, no such job or agent, or (single host) no such object. */
export class NotFoundError extends FleetApiError {}
/** 409: conflict (name in use, image in use without `force`, …) on a single-host target. */
export class ConflictError extends FleetApiError {}
/** 429: the key made too many requests; retry after `retryAfterSeconds`. */
export class RateLimitedError extends FleetApiError {
  readonly retryAfterSeconds?: number;

  constructor(status: number, body: unknown, retryAfter: string | null) {
    super(status, body);
    const seconds = Number(retryAfter);
    this.retryAfterSeconds = retryAfter !== null && Number.isFinite(seconds) ? seconds : undefined;
  }
}

/** The gateway could not be reached (connection refused, DNS, TLS, aborted by a timeout). */
export class FleetConnectionError extends Error {
  constructor(
    readonly url: string,
    cause: unknown,
  ) {
    super(`cannot reach the gateway at ${url}: ${describeCause(cause)}`, { cause });
    this.name = 'FleetConnectionError';
  }
}

/** `jobs.wait()` ran out of time; `job` is the last state seen (still pending or running). */
export class JobWaitTimeoutError extends Error {
  constructor(readonly job: components['schemas']['Job']) {
    super(`job ${job.job_id} is still ${job.status}`);
    this.name = 'JobWaitTimeoutError';
  }
}

const BY_STATUS: Record<number, new (status: number, body: unknown) => FleetApiError> = {
  400: BadRequestError,
  401: UnauthorizedError,
  403: ForbiddenError,
  404: NotFoundError,
  409: ConflictError,
};

/** The typed error for a non-2xx answer with this status and body (and `retry-after` header, for a 429). */
export function errorFromStatus(status: number, body: unknown, retryAfter: string | null): FleetApiError {
  if (status === 429) return new RateLimitedError(status, body, retryAfter);
  const ErrorClass = BY_STATUS[status] ?? FleetApiError;
  return new ErrorClass(status, body);
}

/** The typed error for a non-2xx response whose body has been read as `body`. */
export function errorFromResponse(response: Response, body: unknown): FleetApiError {
  return errorFromStatus(response.status, body, response.headers.get('retry-after'));
}

/** undici reports a refused connection as `fetch failed` with the reason in `cause`. */
function describeCause(cause: unknown): string {
  const { message, cause: inner } = (cause ?? {}) as { message?: unknown; cause?: { message?: unknown } };
  if (typeof message !== 'string') return String(cause);
  return typeof inner?.message === 'string' ? `${message}: ${inner.message}` : message;
}

function asErrorBody(body: unknown): Partial<ErrorBody> | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const { error, details, code, reason, job_id } = body as Record<string, unknown>;
  return {
    error: typeof error === 'string' ? error : undefined,
    // A reason this SDK does not know yet (a newer gateway) is passed on as sent.
    reason: typeof reason === 'string' ? (reason as FleetErrorReason) : undefined,
    details: typeof details === 'string' ? details : undefined,
    code: typeof code === 'number' ? code : undefined,
    job_id: typeof job_id === 'string' ? job_id : undefined,
  };
}
