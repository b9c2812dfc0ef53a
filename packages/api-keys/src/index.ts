/** API keys: HS256 JWTs the gateway verifies, minted by the CLI (`fleet token create`) and by deploy for a local fleet. */
import { createSecretKey, type KeyObject, randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { isRole, ROLES, type Permission, type Role } from '@fleet/contracts/permissions';
import { parseScope } from '@fleet/contracts/grammar';
import { loadContract } from '@fleet/contracts/operations';

/** The one algorithm we sign and accept; pinning it is what defeats `alg:none` and key-confusion attacks. */
export const TOKEN_ALGORITHM = 'HS256';
export const TOKEN_ISSUER = 'fleet';
/** The longest a key may live unless FLEET_MAX_KEY_TTL_SECONDS says otherwise: 90 days. */
export const DEFAULT_MAX_KEY_TTL_SECONDS = 90 * 24 * 3600;

export interface MintOptions {
  secret: string;
  role: Role;
  /** Lifetime in seconds; every key expires. */
  ttlSeconds: number;
  subject?: string;
  /** Optional target scope, e.g. `role:web`: calls outside it are refused. Never empty. */
  scope?: string;
  /** Refuse a longer ttlSeconds; default DEFAULT_MAX_KEY_TTL_SECONDS. */
  maxTtlSeconds?: number;
}

export interface ApiKeyClaims {
  sub: string;
  role: Role;
  jti: string;
  exp: number;
  scope?: string;
}

/** A key that cannot be minted as asked (a subject outside the contract's rule, empty or unlimited scope, lifetime over the maximum). */
export class MintError extends Error {}

interface SubjectRule {
  pattern: string;
  minLength: number;
  maxLength: number;
}

/** The contract's `KeySubject`: the one rule for a key's subject, POST /token's and the CLI's alike. */
const SUBJECT_RULE = (loadContract() as { components: { schemas: { KeySubject: SubjectRule } } }).components.schemas.KeySubject;
const SUBJECT_PATTERN = new RegExp(SUBJECT_RULE.pattern, 'u');

/** Throws a MintError unless `subject` follows the contract's KeySubject rule. */
export function checkKeySubject(subject: string): void {
  const { minLength, maxLength } = SUBJECT_RULE;
  if (subject.length < minLength || subject.length > maxLength || !SUBJECT_PATTERN.test(subject)) {
    throw new MintError(
      `the subject must be ${minLength} to ${maxLength} characters, each a letter, a digit or one of . _ @ : - (pattern ` +
        `${SUBJECT_RULE.pattern})`,
    );
  }
}

export function mintToken(opts: MintOptions): string {
  const maxTtl = opts.maxTtlSeconds ?? DEFAULT_MAX_KEY_TTL_SECONDS;
  if (opts.ttlSeconds > maxTtl) throw new MintError(`a key may live at most ${maxTtl} s; ${opts.ttlSeconds} s asked`);
  const subject = opts.subject ?? `${opts.role}-key`;
  checkKeySubject(subject);
  const claims: Record<string, unknown> = { role: opts.role };
  // An empty scope is a mistake, never "no limit": a key without a scope is asked for by leaving it out.
  if (opts.scope !== undefined) claims.scope = checkedScope(opts.scope);
  return jwt.sign(claims, opts.secret, {
    algorithm: TOKEN_ALGORITHM,
    expiresIn: opts.ttlSeconds,
    subject,
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

function checkedScope(scope: string): string {
  try {
    parseScope(scope);
  } catch (err) {
    throw new MintError(
      scope === '' ? 'the scope is empty: give a target such as role:web, or no scope for an unscoped key' : (err as Error).message,
    );
  }
  return scope;
}

/**
 * Verifies signature, algorithm, issuer, expiry and lifetime (a key minted to live longer than
 * `maxTtlSeconds` is refused whoever signed it); throws InvalidTokenError saying why.
 */
export function verifyToken(token: string, key: KeyObject, maxTtlSeconds = DEFAULT_MAX_KEY_TTL_SECONDS): ApiKeyClaims {
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
  if (payload.scope !== undefined && !isValidScope(payload.scope))
    throw new InvalidTokenError('API key scope is not a hostname or key:value selectors');
  const issuedAt = typeof payload.iat === 'number' ? payload.iat : Math.floor(Date.now() / 1000);
  if (payload.exp - issuedAt > maxTtlSeconds) throw new InvalidTokenError(`API key lives longer than the maximum of ${maxTtlSeconds} s`);
  return { sub: payload.sub, role: payload.role, jti: payload.jti, exp: payload.exp, scope: payload.scope };
}

function isValidScope(scope: unknown): scope is string {
  if (typeof scope !== 'string') return false;
  try {
    parseScope(scope);
    return true;
  } catch {
    return false;
  }
}

/**
 * Verifies each key once and remembers it until it expires: the HMAC and the claim checks are
 * the same for every request made with one key. Bounded, least recently used out first; keys
 * that fail are never kept, and revocation is checked by the caller on every request.
 */
export class KeyVerifier {
  private readonly verified = new Map<string, ApiKeyClaims>();

  private readonly capacity: number;
  private readonly maxTtlSeconds: number;

  constructor(
    private readonly key: KeyObject,
    options: { capacity?: number; maxTtlSeconds?: number } = {},
  ) {
    this.capacity = options.capacity ?? VERIFIED_KEYS_KEPT;
    this.maxTtlSeconds = options.maxTtlSeconds ?? DEFAULT_MAX_KEY_TTL_SECONDS;
  }

  verify(token: string): ApiKeyClaims {
    const known = this.verified.get(token);
    if (known) {
      this.verified.delete(token);
      // Expired as jsonwebtoken counts it (whole seconds): verified again, so it fails with the same message.
      if (Math.floor(Date.now() / 1000) < known.exp) {
        this.verified.set(token, known);
        return known;
      }
    }
    const claims = verifyToken(token, this.key, this.maxTtlSeconds);
    this.verified.set(token, claims);
    if (this.verified.size > this.capacity) this.verified.delete(this.verified.keys().next().value as string);
    return claims;
  }
}

/** Distinct keys a gateway keeps verified (a few hundred bytes each). */
const VERIFIED_KEYS_KEPT = 10_000;

export function permissionsOf(role: Role): readonly Permission[] {
  return ROLES[role];
}

function describeJwtError(err: unknown): string {
  if (err instanceof jwt.TokenExpiredError) return 'API key expired';
  if (err instanceof jwt.JsonWebTokenError) return `API key invalid: ${err.message}`;
  return 'API key invalid';
}
