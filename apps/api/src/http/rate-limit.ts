import type { RequestHandler } from 'express';
import { rateLimit } from 'express-rate-limit';
import { callerOf } from '../auth/middleware';
import { ApiError } from '../api-error';

const WINDOW_MS = 60_000;

/**
 * Per API key (its `jti`), per gateway replica: a runaway pipeline is slowed
 * with 429 and `Retry-After` instead of starving everyone else.
 */
export function perKeyRateLimit(perMinute: number): RequestHandler {
  if (perMinute === 0) return (_req, _res, next) => next();
  return rateLimit({
    windowMs: WINDOW_MS,
    limit: perMinute,
    standardHeaders: 'draft-7',
    legacyHeaders: false,
    keyGenerator: (_req, res) => callerOf(res).jti,
    handler: (_req, _res, next, options) => {
      const details = `this API key may make ${options.limit} requests per ${WINDOW_MS / 1000} s; retry after the Retry-After delay`;
      next(new ApiError('rate_limited', details));
    },
  });
}
