import { createHash, randomBytes } from 'node:crypto';
import type { KV } from '@nats-io/kv';
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import { fromPublic } from '@nats-io/nkeys';
import type { KeyPair } from '@nats-io/nkeys';
import { agentRotateOrderSubject, isOwnReplySubject } from '@fleet/contracts/nats-permissions';
import { IDENTITY_SUBJECT_PREFIX, parseIdentitySubject, type IdentityRecord, type JoinTokenRecord } from '@fleet/contracts/protocol';
import { agentAccountJwt, agentUserJwt, newAccountKey } from '@fleet/runtime/nats-identity';
import type { Logger } from '@fleet/runtime/logger';
import { isWrongLastSequence } from '@fleet/runtime/nats';
import { ApiError, notFound } from '../api-error';
import { idempotentRequest, whileBrokerRefuses } from '../nats/broker-unavailable';

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
/** How long an admin's rotation waits for the agent to have moved to its new key. */
const ROTATION_TIMEOUT_MS = 30_000;
const ROTATION_POLL_MS = 100;
/** One gateway replica answers each agent's rotation step. */
const ROTATION_QUEUE = 'fleet-gateway-identity';
const JOIN_RACE = 'joined with another token at the same moment; its token is spent, ask for a new one';
const ROTATION_RACE = 'changed identity at the same moment (a join, a removal or another rotation); rotate again';

/**
 * Agents' NATS identities: one-time join tokens (only their hash is stored), the join that turns
 * one into a user JWT for the agent's own public key, and removal, which revokes every user the
 * host joined with. The account JWTs go to the resolver at once, so no server restarts.
 */
export class AgentIdentities {
  private nc?: NatsConnection;
  private sub?: Subscription;
  private log?: Logger;

  constructor(
    private readonly tokens: KV,
    private readonly identities: KV,
    private readonly keys: EnrolmentKeys | undefined,
  ) {}

  /**
   * Answers agents' rotation steps (README "Rotating NATS identities"). Each arrives on a subject
   * only that host's account imports, over a login the broker checked by the signature of its NKey:
   * the subject names the host, so no agent rotates another, and a revoked key cannot log in to ask.
   */
  start(nc: NatsConnection, log: Logger): void {
    this.nc = nc;
    this.log = log;
    if (!this.keys) return;
    // Accounts signed by an older gateway may lack an import this one serves (a rotation's subjects).
    this.refreshAccounts(this.keys).catch((err) => log.warn({ err: (err as Error).message }, "re-signing the agents' accounts failed"));
    this.sub = nc.subscribe(`${IDENTITY_SUBJECT_PREFIX}.*.*`, {
      queue: ROTATION_QUEUE,
      callback: (err, msg) => {
        if (!err) void this.answerRotationStep(msg);
      },
    });
  }

  stop(): void {
    this.sub?.unsubscribe();
  }

  async issueJoinToken(hostname: string, ttlSeconds: number, by: string): Promise<{ hostname: string; token: string; expires_at: string }> {
    this.requireKeys();
    const token = `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
    const record: JoinTokenRecord = { hostname, expires_at: new Date(Date.now() + ttlSeconds * 1000).toISOString(), by };
    // A fresh random key: sent again only when no stream leader took it, it cannot clash with itself.
    await whileBrokerRefuses(() => this.tokens.create(tokenKey(token), JSON.stringify(record)));
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
    await this.save(hostname, record, identity.revision, JOIN_RACE);
    await this.push(keys, hostname, record);
    return { hostname, user_jwt: agentUserJwt(keys.userSigner, { hostname, account: record.account }, publicKey), account: record.account };
  }

  /**
   * An admin's rotation: orders the live agent to rotate and waits until its identity shows a new
   * key with every older one revoked. The agent does the work (its seed never leaves its host).
   */
  async rotate(hostname: string): Promise<{ hostname: string; public_key: string; revoked: string[]; rotated_at: string }> {
    this.requireKeys();
    const before = await this.identityOf(hostname);
    if (!before) throw notFound('agent not found', `'${hostname}' has no NATS identity: it never joined, or was removed already`);
    const previous = before.record.users.map((user) => user.public_key);
    this.requireConnection().publish(agentRotateOrderSubject(hostname));
    const giveUpAt = Date.now() + ROTATION_TIMEOUT_MS;
    while (Date.now() < giveUpAt) {
      await new Promise((resolve) => setTimeout(resolve, ROTATION_POLL_MS));
      const now = (await this.identityOf(hostname))?.record;
      const current = now?.users.at(-1);
      if (now && current && !previous.includes(current.public_key) && previous.every((key) => now.revocations[key] !== undefined)) {
        return { hostname, public_key: current.public_key, revoked: previous, rotated_at: new Date().toISOString() };
      }
    }
    throw new ApiError(
      'deadline_exceeded',
      `'${hostname}' did not rotate its identity within ${ROTATION_TIMEOUT_MS / 1000} s: is its agent live and joined with an identity ` +
        `directory?`,
    );
  }

  /**
   * Rotation, step one, asked over the agent's current login: a user JWT for its new key in the
   * same account. Its older keys stay valid, so its work goes on, until step two.
   */
  async issueRotatedUser(hostname: string, publicKey: string): Promise<{ user_jwt: string }> {
    const keys = this.requireKeys();
    const identity = await this.requireIdentity(hostname);
    if (identity.record.users.some((user) => user.public_key === publicKey)) {
      throw new ApiError('conflict', `'${hostname}' used this key before; a rotation needs a fresh NKey`);
    }
    const users = [...identity.record.users, { public_key: publicKey, joined_at: new Date().toISOString(), rotated: true as const }];
    await this.save(hostname, { ...identity.record, users }, identity.revision, ROTATION_RACE);
    return { user_jwt: agentUserJwt(keys.userSigner, { hostname, account: identity.record.account }, publicKey) };
  }

  /**
   * Rotation, step two, asked over the new login once it carries the agent's work: every other key
   * is revoked on the broker, and live connections of those keys are cut.
   */
  async completeRotation(hostname: string, publicKey: string): Promise<{ revoked: string[] }> {
    const keys = this.requireKeys();
    const identity = await this.requireIdentity(hostname);
    if (identity.record.users.at(-1)?.public_key !== publicKey) {
      throw new ApiError('conflict', `this is not the key '${hostname}' rotated to last`);
    }
    const now = Math.floor(Date.now() / 1000);
    const older = identity.record.users.filter(
      (user) => user.public_key !== publicKey && identity.record.revocations[user.public_key] === undefined,
    );
    const revocations = { ...identity.record.revocations, ...Object.fromEntries(older.map((user) => [user.public_key, now])) };
    const record = { ...identity.record, revocations };
    await this.save(hostname, record, identity.revision, ROTATION_RACE);
    await this.push(keys, hostname, record);
    return { revoked: older.map((user) => user.public_key) };
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
    await whileBrokerRefuses(() => this.identities.delete(hostname));
    return { hostname, removed: true, revoked_at: now.toISOString() };
  }

  /** Checks the token in full before spending it; a compare-and-set spends it once across replicas. */
  private async spend(hostname: string, token: string): Promise<void> {
    const refused = (details: string) => new ApiError('unauthenticated', details);
    if (!token.startsWith(TOKEN_PREFIX)) throw refused('not a join token');
    const entry = await whileBrokerRefuses(() => this.tokens.get(tokenKey(token)));
    if (!entry || entry.operation !== 'PUT') throw refused('unknown join token');
    const record = entry.json<JoinTokenRecord>();
    if (record.spent_at) throw refused('this join token was used already; ask an admin for a new one (fleet agent join-token)');
    if (Date.parse(record.expires_at) <= Date.now()) throw refused(`this join token expired at ${record.expires_at}`);
    if (record.hostname !== hostname) {
      throw new ApiError('out_of_scope', `this join token is for another host, not '${hostname}'`, { error: 'Forbidden' });
    }
    try {
      const spent = JSON.stringify({ ...record, spent_at: new Date().toISOString() });
      await whileBrokerRefuses(() => this.tokens.update(tokenKey(token), spent, entry.revision));
    } catch (err) {
      if (isWrongLastSequence(err)) throw refused('this join token was used already; ask an admin for a new one (fleet agent join-token)');
      throw err;
    }
  }

  private async refreshAccounts(keys: EnrolmentKeys): Promise<void> {
    for (const hostname of await this.identities.keys().then(collect)) {
      const identity = await this.identityOf(hostname);
      if (identity) await this.push(keys, hostname, identity.record);
    }
  }

  /** One rotation step from an agent; the answer names no secret, only what was refused and why. */
  private async answerRotationStep(msg: Msg): Promise<void> {
    const step = parseIdentitySubject(msg.subject);
    if (!step || !isOwnReplySubject(msg.reply, step.hostname)) return;
    try {
      const publicKey = userPublicKeyOf(msg.data);
      msg.respond(
        JSON.stringify(
          step.step === 'rotate'
            ? await this.issueRotatedUser(step.hostname, publicKey)
            : await this.completeRotation(step.hostname, publicKey),
        ),
      );
    } catch (err) {
      if (!(err instanceof ApiError))
        this.log?.error({ err, hostname: step.hostname, step: step.step }, 'an identity rotation step failed');
      const refusal =
        err instanceof ApiError
          ? { status: err.status, error: err.error, details: err.details }
          : { status: 500, error: 'rotation failed' };
      msg.respond(JSON.stringify(refusal));
    }
  }

  private async requireIdentity(hostname: string): Promise<{ record: IdentityRecord; revision: number }> {
    const identity = await this.identityOf(hostname);
    if (!identity) throw notFound('agent not found', `'${hostname}' has no NATS identity`);
    return identity;
  }

  private requireConnection(): NatsConnection {
    if (!this.nc) throw new Error('AgentIdentities.start was not called');
    return this.nc;
  }

  private async identityOf(hostname: string): Promise<{ record: IdentityRecord; revision: number } | undefined> {
    const entry = await whileBrokerRefuses(() => this.identities.get(hostname));
    return entry && entry.operation === 'PUT' ? { record: entry.json<IdentityRecord>(), revision: entry.revision } : undefined;
  }

  /** Compare-and-set: of two joins of one host at once, one wins and the other is told so. */
  private async save(hostname: string, record: IdentityRecord, revision: number, race: string): Promise<void> {
    const value = JSON.stringify(record);
    try {
      await whileBrokerRefuses(() =>
        revision === 0 ? this.identities.create(hostname, value) : this.identities.update(hostname, value, revision),
      );
    } catch (err) {
      if (isWrongLastSequence(err)) throw new ApiError('conflict', `'${hostname}' ${race}`);
      throw err;
    }
  }

  /** Sends the host's account JWT to the resolver; nats-server applies it to live connections at once. */
  private async push(keys: EnrolmentKeys, hostname: string, record: IdentityRecord): Promise<void> {
    const jwt = agentAccountJwt(keys, { hostname, account: record.account, revocations: record.revocations });
    const answer = await idempotentRequest(() => keys.system.request(CLAIMS_UPDATE_SUBJECT, jwt, { timeout: CLAIMS_UPDATE_TIMEOUT_MS }));
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

async function collect(keys: AsyncIterable<string>): Promise<string[]> {
  const all: string[] = [];
  for await (const key of keys) all.push(key);
  return all;
}

/** The body of a rotation step: `{ "public_key": "U…" }`, a user's public NKey. */
function userPublicKeyOf(data: Uint8Array): string {
  let publicKey: unknown;
  try {
    publicKey = (JSON.parse(new TextDecoder().decode(data)) as { public_key?: unknown }).public_key;
  } catch {
    // reported below
  }
  if (typeof publicKey !== 'string' || !publicKey.startsWith('U') || !isPublicKey(publicKey)) {
    throw new ApiError('validation_failed', 'a rotation step carries { "public_key": <a user public NKey> }');
  }
  return publicKey;
}

function isPublicKey(publicKey: string): boolean {
  try {
    fromPublic(publicKey);
    return true;
  } catch {
    return false;
  }
}

function tokenKey(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}
