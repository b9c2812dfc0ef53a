import type { RequestHandler, Response } from 'express';
import {
  DEFAULT_MAX_KEY_TTL_SECONDS,
  InvalidTokenError,
  KeyVerifier,
  permissionsOf,
  verificationKey,
  type ApiKeyClaims,
} from '@fleet/api-keys';
import type { Permission } from '@fleet/contracts/permissions';
import { ApiError } from '../api-error';
import type { PreAuthLimit } from './pre-auth-limit';

export interface Caller extends ApiKeyClaims {
  permissions: readonly Permission[];
}

const BEARER = /^Bearer\s+(\S+)$/i;

function presentedKey(authorization: string | undefined, apiKeyHeader: string | undefined): string | undefined {
  const bearer = authorization ? BEARER.exec(authorization)?.[1] : undefined;
  return bearer ?? (apiKeyHeader || undefined);
}

/**
 * Verifies the API key (`Authorization: Bearer` or `X-API-Key`) and records the caller on the response.
 * A key is verified once until it expires (KeyVerifier); whether it is revoked is asked on every request.
 * A failed authentication counts against the client address's `preAuth` limit.
 */
export function authenticate(
  secret: string,
  isRevoked: (jti: string) => boolean = () => false,
  maxKeyTtlSeconds = DEFAULT_MAX_KEY_TTL_SECONDS,
  preAuth?: PreAuthLimit,
): RequestHandler {
  const keys = new KeyVerifier(verificationKey(secret), { maxTtlSeconds: maxKeyTtlSeconds });
  return (req, res, next) => {
    const unauthorized = (error: string, details: string) =>
      preAuth?.refusal(req.ip) ?? new ApiError('unauthenticated', details, { error });
    const key = presentedKey(req.get('authorization'), req.get('x-api-key'));
    if (!key) {
      throw unauthorized('Unauthorized - API key required', "send the key as 'Authorization: Bearer <key>' or 'X-API-Key: <key>'");
    }
    let claims: ApiKeyClaims;
    try {
      claims = keys.verify(key);
    } catch (err) {
      if (err instanceof InvalidTokenError) throw unauthorized(`Unauthorized - ${err.message}`, err.message);
      throw err;
    }
    if (isRevoked(claims.jti)) throw unauthorized('Unauthorized - API key revoked', `key ${claims.jti} has been revoked`);
    res.locals.caller = { ...claims, permissions: permissionsOf(claims.role) } satisfies Caller;
    next();
  };
}

export function callerOf(res: Response): Caller {
  return res.locals.caller as Caller;
}

export function authorize(permission: Permission | 'none'): RequestHandler {
  return (_req, res, next) => {
    if (permission !== 'none') requirePermission(callerOf(res), permission, 'this operation');
    next();
  };
}

/** 403 naming `permission` unless the caller's role grants it; `what` says what needed it. */
export function requirePermission(caller: Caller, permission: Permission, what: string): void {
  if (caller.permissions.includes(permission)) return;
  throw new ApiError(
    'permission_denied',
    `${what} requires permission '${permission}'; the key's role '${caller.role}' grants ${caller.permissions.join(', ')}`,
  );
}
