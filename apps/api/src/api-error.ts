import { ERROR_REASONS, reasonOfHostStatus, type ErrorReason } from '@fleet/contracts/error-reasons';
import type { HostRow } from '@fleet/contracts/protocol';

export interface ApiErrorOptions {
  /** The body's `error` when the answer names its own (`agent not found`); by default the reason's title. */
  error?: string;
  /** More body fields, e.g. the `job_id` of a single-host failure. */
  extra?: Record<string, unknown>;
  /** Response headers that go with the error, e.g. `retry-after` on a 429. */
  headers?: Record<string, string>;
  /** The failure underneath, for the log; never answered. */
  cause?: unknown;
}

/**
 * A failure that answers with its reason's status (the contract's `ErrorReason`, each declared once
 * with its status and title in the contract's `x-reasons`). Raised by the HTTP layer (auth, routes); the job layer's
 * own errors are mapped to it in http/error-answer.ts. Every non-2xx answer is
 * `{error, details, code, reason}` with all four filled (README "Responses").
 */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  readonly status: number;
  readonly error: string;
  readonly extra: Record<string, unknown>;
  readonly headers: Record<string, string>;

  constructor(
    readonly reason: ErrorReason,
    readonly details: string,
    options: ApiErrorOptions = {},
  ) {
    const error = options.error ?? ERROR_REASONS[reason].title;
    super(`${error}: ${details}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.status = ERROR_REASONS[reason].status;
    this.error = error;
    this.extra = options.extra ?? {};
    this.headers = options.headers ?? {};
  }

  body(): Record<string, unknown> {
    return { error: this.error, details: this.details, code: this.status, reason: this.reason, ...this.extra };
  }
}

export function badRequest(details: string, cause?: unknown): ApiError {
  return new ApiError('validation_failed', details, { cause });
}
export const notFound = (error: string, details: string) => new ApiError('not_found', details, { error });

/** A single-host call whose host failed: the row's `error_code` is the status, its `error` the title (README "Responses"). */
export function hostFailure(operation: string, row: HostRow, jobId: string): ApiError {
  const details = `${operation} failed on ${row.hostname}: ${row.error ?? 'no error message'}`;
  const reason = reasonOfHostStatus(row.error_code ?? 500);
  return new ApiError(reason, details, { error: row.error ?? 'operation failed', extra: { job_id: jobId } });
}
