import type { ServerResponse } from 'node:http';
import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { Logger } from 'pino';
import { reasonOfStatus, type ErrorReason } from '@fleet/contracts/error-reasons';
import { ApiError, badRequest } from '../api-error';
import { brokerUnavailability } from '../nats/broker-unavailable';
import { JobStoreUnavailableError, LongRunningLimitError, UnsendableParamsError, WaitRefusedError } from '../jobs/job-errors';
import { TargetError, type TargetFailure } from '../targets/resolve';
import { UploadStoreError, UploadTooLargeError } from '../transfers/uploads';

/** express' body parser errors: malformed JSON, body over the size limit. */
function fromBodyParser(err: { type?: string; status?: number; message?: string }): ApiError | undefined {
  if (err.type === 'entity.parse.failed') return badRequest('request body is not valid JSON');
  if (err.type === 'entity.too.large') return new ApiError('payload_too_large', err.message ?? 'body exceeds the limit');
  // Any other client error the body parser raises (bad gzip/br data, unsupported charset or encoding).
  if (typeof err.status === 'number' && err.status >= 400 && err.status < 500) {
    return new ApiError(reasonOfStatus(err.status), err.message ?? err.type ?? 'request body rejected', { error: 'invalid request' });
  }
  return undefined;
}

/** A 503 of a broker that is busy, electing or restarting. */
const RETRY_SHORTLY = { 'retry-after': '1' };

const TARGET_REASONS: Record<TargetFailure, ErrorReason> = {
  invalid: 'invalid_target',
  unmatched: 'target_empty',
};

/** The job layer's own failures, answered with the status that says whose fault each is. */
function fromJobLayer(err: unknown): ApiError | undefined {
  if (err instanceof TargetError) return new ApiError(TARGET_REASONS[err.failure], err.message, { cause: err });
  // The broker is down or restarting (README "Broker restarts"): the same call is worth trying again shortly.
  if (err instanceof JobStoreUnavailableError)
    return new ApiError('job_store_unavailable', err.message, { headers: RETRY_SHORTLY, cause: err });
  if (err instanceof UnsendableParamsError) return badRequest(err.message, err);
  if (err instanceof WaitRefusedError) return new ApiError('wait_refused', err.message, { cause: err });
  // The rest of the body is left unread: the connection is closed after the answer.
  if (err instanceof UploadTooLargeError) return new ApiError('payload_too_large', err.message, { headers: { connection: 'close' } });
  if (err instanceof UploadStoreError) return new ApiError('upload_store_unavailable', err.message, { cause: err });
  if (err instanceof LongRunningLimitError) {
    return new ApiError('long_running_limit', err.message, { headers: { 'retry-after': String(err.retryAfterSeconds) }, cause: err });
  }
  return undefined;
}

/** The answer for an error a request raised, or undefined for a fault of the gateway itself (a 500). */
export function toApiError(err: unknown): ApiError | undefined {
  if (err instanceof ApiError) return err;
  return fromJobLayer(err) ?? fromBroker(err) ?? fromBodyParser(err as { type?: string; status?: number; message?: string });
}

/**
 * The broker could not take the request at the moment (README "Broker restarts"): nothing answered it (a stream electing
 * its leader), JetStream said it cannot yet, or no answer came in time. It is busy, electing or restarting, not broken,
 * and the same request may well succeed a moment later: a 503 that says so, with Retry-After, never a 500.
 */
function fromBroker(err: unknown): ApiError | undefined {
  const unavailability = brokerUnavailability(err);
  if (!unavailability) return undefined;
  const details =
    unavailability === 'refused'
      ? 'NATS JetStream cannot take the request yet (a stream electing its leader, or the broker restarting); retry shortly'
      : 'NATS JetStream did not answer in time (busy, or electing a stream leader); retry shortly';
  return new ApiError('broker_unavailable', details, { headers: RETRY_SHORTLY, cause: err });
}

/** The `error` each refused response answered with, for its audit entry (http/request-log.ts). */
const refusals = new WeakMap<ServerResponse, string>();

/** Notes why a response refused its request: the error's `error` field (set by the gateway, never the request's details). */
export function noteRefusal(res: ServerResponse, error: ApiError): void {
  refusals.set(res, error.error);
}

export function refusalOf(res: ServerResponse): string | undefined {
  return refusals.get(res);
}

export function errorHandler(log: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const apiError = toApiError(err);
    if (apiError) {
      logCause(log, apiError);
      noteRefusal(res, apiError);
      res.status(apiError.status).set(apiError.headers).json(apiError.body());
      return;
    }
    refusals.set(res, 'internal error');
    log.error({ err, method: req.method, path: req.path }, 'unhandled error');
    res.status(500).json(new ApiError('internal_error', 'the gateway failed to handle the request; see its log').body());
  };
}

export const unknownRoute: RequestHandler = (req, _res, next) => {
  next(new ApiError('not_found', `no route ${req.method} ${req.path}`));
};

/**
 * The failure underneath a 5xx goes to the log, never into the answer. A refusal's is not logged: its
 * details are answered already, and a parser's message may quote the request (a key in a JSON body).
 */
function logCause(log: Logger, error: ApiError): void {
  if (error.cause === undefined || error.status < 500) return;
  log.warn({ err: error.cause, reason: error.reason, status: error.status }, 'request failed');
}
