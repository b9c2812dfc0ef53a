/** API keys: HS256 JWTs the gateway verifies, minted by the CLI (`fleet token create`) and by deploy for a local fleet. */
import { createSecretKey, type KeyObject, randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { isRole, ROLES, type Permission, type Role } from '@fleet/contracts/permissions';

/** The one algorithm we sign and accept; pinning it is what defeats `alg:none` and key-confusion attacks. */
export const TOKEN_ALGORITHM = 'HS256';
export const TOKEN_ISSUER = 'fleet';

export interface MintOptions {
  secret: string;
  role: Role;
  /** Lifetime in seconds; every key expires. */
  ttlSeconds: number;
  subject?: string;
  /** Optional target scope, e.g. `role:web`: calls outside it are refused. */
  scope?: string;
}

export interface ApiKeyClaims {
  sub: string;
  role: Role;
  jti: string;
  exp: number;
  scope?: string;
}

export function mintToken(opts: MintOptions): string {
  const claims: Record<string, unknown> = { role: opts.role };
  if (opts.scope) claims.scope = opts.scope;
  return jwt.sign(claims, opts.secret, {
    algorithm: TOKEN_ALGORITHM,
    expiresIn: opts.ttlSeconds,
    subject: opts.subject ?? `${opts.role}-key`,
    jwtid: randomUUID(),
    issuer: TOKEN_ISSUER,
  });
}

export class InvalidTokenError extends Error {
  override readonly name = 'InvalidTokenError';
}

/**
 * The signing secret as a key object, made once. Given a string, jsonwebtoken first tries (and
 * fails) to parse it as a public key on every verification: most of a request's CPU at load.
 */
export function verificationKey(secret: string): KeyObject {
  return createSecretKey(Buffer.from(secret));
}

/** Verifies signature, algorithm, issuer and expiry; throws InvalidTokenError saying why. */
export function verifyToken(token: string, key: KeyObject): ApiKeyClaims {
  let payload: string | jwt.JwtPayload;
  try {
    payload = jwt.verify(token, key, { algorithms: [TOKEN_ALGORITHM], issuer: TOKEN_ISSUER });
  } catch (err) {
    throw new InvalidTokenError(describeJwtError(err));
  }
  if (typeof payload === 'string') throw new InvalidTokenError('API key payload is not a JSON object');
  if (typeof payload.exp !== 'number') throw new InvalidTokenError('API key has no expiry (exp)');
  if (typeof payload.jti !== 'string' || !payload.jti) throw new InvalidTokenError('API key has no id (jti)');
  if (typeof payload.sub !== 'string' || !payload.sub) throw new InvalidTokenError('API key has no subject (sub)');
  if (typeof payload.role !== 'string' || !isRole(payload.role)) throw new InvalidTokenError('API key has an unknown role');
  if (payload.scope !== undefined && typeof payload.scope !== 'string') throw new InvalidTokenError('API key scope is not a string');
  return { sub: payload.sub, role: payload.role, jti: payload.jti, exp: payload.exp, scope: payload.scope };
}

export function permissionsOf(role: Role): readonly Permission[] {
  return ROLES[role];
}

function describeJwtError(err: unknown): string {
  if (err instanceof jwt.TokenExpiredError) return 'API key expired';
  if (err instanceof jwt.JsonWebTokenError) return `API key invalid: ${err.message}`;
  return 'API key invalid';
}
