import { createHash, randomBytes } from 'node:crypto';
import type { KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { KeyPair } from '@nats-io/nkeys';
import type { IdentityRecord, JoinTokenRecord } from '@fleet/contracts/protocol';
import { agentAccountJwt, agentUserJwt, newAccountKey } from '@fleet/runtime/nats-identity';
import { ApiError, notFound } from '../api-error';

/** The keys the gateway enrols agents with (README "Enrolling an agent"); none on a NATS without operator. */
export interface EnrolmentKeys {
  /** The operator's signing key: signs each agent's account JWT. */
  accountSigner: KeyPair;
  /** The FLEET account's key: signs each import's activation. */
  gatewayAccount: KeyPair;
  /** Signs the agents' users. */
  userSigner: KeyPair;
  /** A login in the system account: pushes account JWTs to the servers' resolvers. */
  system: NatsConnection;
}

export const DEFAULT_JOIN_TOKEN_TTL_SECONDS = 900;
const TOKEN_PREFIX = 'fjt_';
/** How long nats-server may take to store a pushed account JWT. */
const CLAIMS_UPDATE_TIMEOUT_MS = 5_000;
const CLAIMS_UPDATE_SUBJECT = '$SYS.REQ.CLAIMS.UPDATE';

/**
 * Agents' NATS identities: one-time join tokens (only their hash is stored), the join that turns
 * one into a user JWT for the agent's own public key, and removal, which revokes every user the
 * host joined with. The account JWTs go to the resolver at once, so no server restarts.
 */
export class AgentIdentities {
  constructor(
    private readonly tokens: KV,
    private readonly identities: KV,
    private readonly keys: EnrolmentKeys | undefined,
  ) {}

  async issueJoinToken(hostname: string, ttlSeconds: number, by: string): Promise<{ hostname: string; token: string; expires_at: string }> {
    this.requireKeys();
    const token = `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
    const record: JoinTokenRecord = { hostname, expires_at: new Date(Date.now() + ttlSeconds * 1000).toISOString(), by };
    await this.tokens.create(tokenKey(token), JSON.stringify(record));
    return { hostname, token, expires_at: record.expires_at };
  }

  /**
   * Spends `token` for `hostname` and answers the user JWT for `publicKey`. A host that joined
   * before keeps its account, and every key it joined with before is revoked: a join is also how
   * an agent rotates its key, and a copy of the old seed logs in no more.
   */
  async join(hostname: string, token: string, publicKey: string): Promise<{ hostname: string; user_jwt: string; account: string }> {
    const keys = this.requireKeys();
    await this.spend(hostname, token);
    const identity = (await this.identityOf(hostname)) ?? {
      record: { account: newAccountKey().getPublicKey(), users: [], revocations: {} },
      revision: 0,
    };
    // Revoking the old keys would revoke a reused one with them: a join always brings a fresh key.
    if (identity.record.users.some((user) => user.public_key === publicKey)) {
      throw new ApiError(
        'conflict',
        `'${hostname}' joined with this key before; a join needs a fresh NKey (the token is spent, ask for a new one)`,
      );
    }
    const now = new Date();
    const revoked = Object.fromEntries(identity.record.users.map((user) => [user.public_key, Math.floor(now.getTime() / 1000)]));
    const record: IdentityRecord = {
      account: identity.record.account,
      users: [...identity.record.users, { public_key: publicKey, joined_at: now.toISOString() }],
      revocations: { ...identity.record.revocations, ...revoked },
    };
    await this.save(hostname, record, identity.revision);
    await this.push(keys, hostname, record);
    return { hostname, user_jwt: agentUserJwt(keys.userSigner, { hostname, account: record.account }, publicKey), account: record.account };
  }

  /** Revokes every user `hostname` joined with (its connections are cut at once) and forgets its identity. */
  async remove(hostname: string): Promise<{ hostname: string; removed: true; revoked_at: string }> {
    const keys = this.requireKeys();
    const identity = await this.identityOf(hostname);
    if (!identity) throw notFound('agent not found', `'${hostname}' has no NATS identity: it never joined, or was removed already`);
    const now = new Date();
    // `*`: every user issued before now, whichever key it was for.
    await this.push(keys, hostname, {
      ...identity.record,
      revocations: { ...identity.record.revocations, '*': Math.floor(now.getTime() / 1000) },
    });
    await this.identities.delete(hostname);
    return { hostname, removed: true, revoked_at: now.toISOString() };
  }

  /** Checks the token in full before spending it; a compare-and-set spends it once across replicas. */
  private async spend(hostname: string, token: string): Promise<void> {
    const refused = (details: string) => new ApiError('unauthenticated', details);
    if (!token.startsWith(TOKEN_PREFIX)) throw refused('not a join token');
    const entry = await this.tokens.get(tokenKey(token));
    if (!entry || entry.operation !== 'PUT') throw refused('unknown join token');
    const record = entry.json<JoinTokenRecord>();
    if (record.spent_at) throw refused('this join token was used already; ask an admin for a new one (fleet agent join-token)');
    if (Date.parse(record.expires_at) <= Date.now()) throw refused(`this join token expired at ${record.expires_at}`);
    if (record.hostname !== hostname) {
      throw new ApiError('out_of_scope', `this join token is for another host, not '${hostname}'`, { error: 'Forbidden' });
    }
    try {
      await this.tokens.update(tokenKey(token), JSON.stringify({ ...record, spent_at: new Date().toISOString() }), entry.revision);
    } catch {
      throw refused('this join token was used already; ask an admin for a new one (fleet agent join-token)');
    }
  }

  private async identityOf(hostname: string): Promise<{ record: IdentityRecord; revision: number } | undefined> {
    const entry = await this.identities.get(hostname);
    return entry && entry.operation === 'PUT' ? { record: entry.json<IdentityRecord>(), revision: entry.revision } : undefined;
  }

  /** Compare-and-set: of two joins of one host at once, one wins and the other is told so. */
  private async save(hostname: string, record: IdentityRecord, revision: number): Promise<void> {
    try {
      if (revision === 0) await this.identities.create(hostname, JSON.stringify(record));
      else await this.identities.update(hostname, JSON.stringify(record), revision);
    } catch {
      throw new ApiError('conflict', `'${hostname}' joined with another token at the same moment; its token is spent, ask for a new one`);
    }
  }

  /** Sends the host's account JWT to the resolver; nats-server applies it to live connections at once. */
  private async push(keys: EnrolmentKeys, hostname: string, record: IdentityRecord): Promise<void> {
    const jwt = agentAccountJwt(keys, { hostname, account: record.account, revocations: record.revocations });
    const answer = await keys.system.request(CLAIMS_UPDATE_SUBJECT, jwt, { timeout: CLAIMS_UPDATE_TIMEOUT_MS });
    const result = answer.json<{ data?: { code?: number }; error?: { description?: string } }>();
    if (result.error || result.data?.code !== 200)
      throw new Error(`nats-server refused the account of ${hostname}: ${result.error?.description ?? 'no answer code'}`);
  }

  private requireKeys(): EnrolmentKeys {
    if (!this.keys) {
      throw new ApiError(
        'conflict',
        'this gateway enrols no agents: its NATS runs without operator (FLEET_NATS_SYSTEM_CREDS and the signing keys are not set)',
      );
    }
    return this.keys;
  }
}

function tokenKey(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}
