import type { ServerResponse } from 'node:http';
import type { ErrorRequestHandler, RequestHandler } from 'express';
import { RequestError, TimeoutError } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { ApiError, badRequest } from '../api-error';
import { JobStoreUnavailableError, LongRunningLimitError, UnsendableParamsError } from '../jobs/job-errors';
import { TargetError, type TargetFailure } from '../targets/resolve';
import { UploadStoreError, UploadTooLargeError } from '../transfers/uploads';

/** express' body parser errors: malformed JSON, body over the size limit. */
function fromBodyParser(err: { type?: string; status?: number; message?: string }): ApiError | undefined {
  if (err.type === 'entity.parse.failed') return new ApiError(400, 'invalid request', 'request body is not valid JSON');
  if (err.type === 'entity.too.large') return new ApiError(413, 'request body too large', err.message ?? 'body exceeds the limit');
  // Any other client error the body parser raises (bad gzip/br data, unsupported charset or encoding).
  if (typeof err.status === 'number' && err.status >= 400 && err.status < 500) {
    return new ApiError(err.status, 'invalid request', err.message ?? err.type ?? 'request body rejected');
  }
  return undefined;
}

const TARGET_ANSWERS: Record<TargetFailure, { status: number; error: string }> = {
  invalid: { status: 400, error: 'invalid target' },
  unmatched: { status: 404, error: 'no agent matches target' },
};

/** The job layer's own failures, answered with the status that says whose fault each is. */
function fromJobLayer(err: unknown): ApiError | undefined {
  if (err instanceof TargetError) {
    const { status, error } = TARGET_ANSWERS[err.failure];
    return new ApiError(status, error, err.message);
  }
  if (err instanceof JobStoreUnavailableError) return new ApiError(503, 'job store unavailable', err.message);
  if (err instanceof UnsendableParamsError) return badRequest(err.message);
  // The rest of the body is left unread: the connection is closed after the answer.
  if (err instanceof UploadTooLargeError) return new ApiError(413, 'request body too large', err.message, {}, { connection: 'close' });
  if (err instanceof UploadStoreError) return new ApiError(507, 'upload store unavailable', err.message);
  if (err instanceof LongRunningLimitError) return new ApiError(429, 'Too Many Requests', err.message, {}, { 'retry-after': String(err.retryAfterSeconds) });
  return undefined;
}

/** The answer for an error a request raised, or undefined for a fault of the gateway itself (a 500). */
export function toApiError(err: unknown): ApiError | undefined {
  if (err instanceof ApiError) return err;
  return fromJobLayer(err) ?? fromBroker(err) ?? fromBodyParser(err as { type?: string; status?: number; message?: string });
}

/**
 * NATS did not answer in time, or nothing answered (a stream without a leader): the broker is busy or
 * electing, not broken, and the same request may well succeed a moment later (accepting thousands of
 * agents at once, say). A 503 that says so, rather than a 500.
 */
function fromBroker(err: unknown): ApiError | undefined {
  const busy = err instanceof TimeoutError || (err instanceof RequestError && err.isNoResponders());
  if (!busy) return undefined;
  return new ApiError(503, 'broker unavailable', 'NATS JetStream did not answer in time (busy, or electing a stream leader); retry shortly', {}, { 'retry-after': '1' });
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
      noteRefusal(res, apiError);
      res.status(apiError.status).set(apiError.headers).json(apiError.body());
      return;
    }
    refusals.set(res, 'internal error');
    log.error({ err, method: req.method, path: req.path }, 'unhandled error');
    res.status(500).json({ error: 'internal error', details: 'the gateway failed to handle the request; see its log', code: 500 });
  };
}

export const unknownRoute: RequestHandler = (req, _res, next) => {
  next(new ApiError(404, 'not found', `no route ${req.method} ${req.path}`));
};
