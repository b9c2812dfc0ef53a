import jwt from 'jsonwebtoken';
import { MintError, mintToken } from '@fleet/api-keys';
import { parseScope, targetWithin } from '@fleet/contracts/grammar';
import type { Role } from '@fleet/contracts/permissions';
import { callerOf, type Caller } from '../auth/middleware';
import type { MintedKeys } from '../auth/minted-keys';
import type { Revocations } from '../auth/revocations';
import { ApiError, badRequest } from '../api-error';
import type { GatewayHandlers } from './operation-table';

export interface TokenRouteOptions {
  jwtSecret: string;
  maxKeyTtlSeconds: number;
}

interface MintRequest {
  role: Role;
  ttl_seconds?: number;
  subject?: string;
  scope?: string;
}

const DEFAULT_TTL_SECONDS = 3600;

/** Minting and revoking keys (`token:admin`); what a scoped key may do here is in the contract and README "Security model". */
export function tokenHandlers(
  revocations: Revocations,
  mintedKeys: MintedKeys,
  opts: TokenRouteOptions,
): Pick<GatewayHandlers, 'token.list' | 'token.create' | 'token.revoke'> {
  return {
    'token.list': async (_req, res) => {
      const caller = callerOf(res);
      const records = (await mintedKeys.list()).filter((record) => caller.scope === undefined || isWithinScope(record.scope, caller.scope));
      res.json({ keys: records.map((record) => ({ ...record, revoked: revocations.isRevoked(record.jti) })) });
    },
    'token.create': async (req, res) => {
      const caller = callerOf(res);
      const request = req.body as MintRequest;
      const scope = request.scope ?? caller.scope;
      if (caller.scope !== undefined) requireWithinScope(scope as string, caller.scope);
      const key = mintWithin(caller, { ...request, scope }, opts);
      const claims = jwt.decode(key) as jwt.JwtPayload;
      const minted = {
        jti: claims.jti as string,
        sub: claims.sub as string,
        role: claims.role as string,
        ...(scope === undefined ? {} : { scope }),
        expires_at: new Date((claims.exp ?? 0) * 1000).toISOString(),
      };
      // Recorded before it is handed out: no key leaves the gateway unlisted (a failed write is a 5xx, no key).
      await mintedKeys.record({ ...minted, minted_by: caller.sub, minted_at: new Date().toISOString() });
      res.status(201).json({ key, ...minted });
    },
    'token.revoke': async (req, res) => {
      const caller = callerOf(res);
      const jti = String(req.params.jti);
      requireMayRevoke(caller, jti);
      await revocations.revoke(jti, caller.sub);
      res.json({ jti, revoked: true });
    },
  };
}

/** A key as asked, refused (400) when the gateway's rules forbid it or it would outlive the key minting it. */
function mintWithin(caller: Caller, request: MintRequest, opts: TokenRouteOptions): string {
  const { role, subject, scope } = request;
  const ttlSeconds = request.ttl_seconds ?? DEFAULT_TTL_SECONDS;
  let key: string;
  try {
    key = mintToken({ secret: opts.jwtSecret, role, ttlSeconds, subject, scope, maxTtlSeconds: opts.maxKeyTtlSeconds });
  } catch (err) {
    if (err instanceof MintError) throw badRequest(err.message, err);
    throw err;
  }
  // Checked on the minted claims; a refused key is never handed out.
  if (((jwt.decode(key) as jwt.JwtPayload).exp ?? Infinity) > caller.exp) {
    const expiresAt = new Date(caller.exp * 1000).toISOString();
    throw badRequest(`ttl_seconds: a key may not outlive the key minting it (which expires at ${expiresAt})`);
  }
  return key;
}

/** A scoped key mints only inside its own scope, judged from the two scopes alone (labels may change later). */
function requireWithinScope(requested: string, own: string): void {
  let inner;
  try {
    inner = parseScope(requested);
  } catch (err) {
    throw badRequest(`scope: ${(err as Error).message}`, err);
  }
  if (!targetWithin(inner, parseScope(own))) {
    throw new ApiError(
      'out_of_scope',
      `scope '${requested}' is wider than this key's scope '${own}'; a scoped key mints keys only inside its own scope`,
    );
  }
}

/** For lists: a key whose scope is at least as narrow as `own` (an unscoped key is inside no scope). */
function isWithinScope(scope: string | undefined, own: string): boolean {
  if (scope === undefined) return false;
  try {
    return targetWithin(parseScope(scope), parseScope(own));
  } catch {
    return false;
  }
}

/** A key id says nothing of the key's scope: a scoped key may revoke only itself. */
function requireMayRevoke(caller: Caller, jti: string): void {
  if (caller.scope !== undefined && jti !== caller.jti) {
    throw new ApiError(
      'out_of_scope',
      `a key scoped to '${caller.scope}' may revoke only itself; revoking other keys needs an unscoped token:admin key`,
    );
  }
}
