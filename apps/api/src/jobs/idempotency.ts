import { createHash, randomUUID } from 'node:crypto';
import type { KV } from '@nats-io/kv';
import type { JobRecord } from '@fleet/contracts/protocol';
import { ApiError, badRequest } from '../api-error';

/** The request header naming a retry's key (the contract's `IdempotencyKey` parameter). */
export const IDEMPOTENCY_HEADER = 'Idempotency-Key';
/** Set on an answer that is a replay of the key's first job. */
export const REPLAYED_HEADER = 'Idempotent-Replayed';

/** What makes two calls the same request: never stored as is, only its digest. */
export interface IdempotentRequest {
  operation: string;
  target: string;
  params: Record<string, unknown>;
  /** The credential header's value (X-Registry-Auth): it enters the digest only. */
  secret?: string;
  /** The object store's digest of a file body. */
  uploadDigest?: string;
}

/** The API key a claim belongs to: one key's claims are never another's. */
export interface IdempotencyCaller {
  sub: string;
  jti: string;
}

export type IdempotencyClaim =
  /**
   * The key is this call's: start the job under `jobId`, then call `started` (from then on the key
   * answers with the job, even once its record has expired); `release` frees the key if it cannot start.
   */
  | { replay: false; jobId: string; started: () => Promise<void>; release: () => Promise<void> }
  /** The key's first call made `jobId`: answer with it. */
  | { replay: true; jobId: string };

/** What the bucket holds per key: no request, no secret, only digests and the job. */
interface StoredClaim {
  job_id: string;
  request_sha256: string;
  claimed_at: string;
  /** The job was stored: a missing record then means it expired, never that it is still to start. */
  started?: true;
}

/** How long a retry waits for the first call's job record to appear before answering 409. */
const RECORD_WAIT_MS = 3_000;
const RECORD_POLL_MS = 100;
/** A claim this old with no job record is from a gateway that died before storing the job: a retry may take it over. */
const ABANDONED_CLAIM_MS = 30_000;
const CLAIM_ATTEMPTS = 3;

/**
 * Idempotency keys (README "Retries and idempotency"), in a JetStream KV bucket with a 24 h TTL, so
 * every replica and a restarted gateway read the same claims. A key is claimed by an atomic create:
 * of two retries racing on two replicas, one starts the job and the other answers with it.
 */
export class IdempotencyKeys {
  constructor(
    private readonly bucket: KV,
    private readonly records: { getRecord(jobId: string): Promise<JobRecord | undefined> },
  ) {}

  /** Claims `key` for this caller's request under `jobId` (a new id if none), or finds the job it already made. */
  async claim(caller: IdempotencyCaller, key: string, request: IdempotentRequest, jobId: string = randomUUID()): Promise<IdempotencyClaim> {
    const slot = slotOf(caller, key);
    const mine: StoredClaim = { job_id: jobId, request_sha256: requestDigest(request), claimed_at: new Date().toISOString() };
    for (let attempt = 0; attempt < CLAIM_ATTEMPTS; attempt++) {
      const created = await this.bucket.create(slot, JSON.stringify(mine)).catch(() => undefined);
      if (created !== undefined) return this.ours(slot, mine, created);
      const entry = await this.bucket.get(slot);
      // Released (its job never started) between our create and this read: claim again.
      if (!entry || entry.operation !== 'PUT') continue;
      const held = entry.json<StoredClaim>();
      if (held.request_sha256 !== mine.request_sha256) {
        const why = `this Idempotency-Key was used within 24 h by this API key for a different request (job ${held.job_id})`;
        throw new ApiError('idempotency_key_reused', `${why}; use a new key for a new request`);
      }
      if (held.started || (await this.recordAppears(held.job_id))) return { replay: true, jobId: held.job_id };
      if (Date.now() - Date.parse(held.claimed_at) < ABANDONED_CLAIM_MS) {
        throw inProgress('the first call with this Idempotency-Key has not started its job yet');
      }
      // Compare-and-set on the revision read: of two retries taking an abandoned claim over, one wins.
      const taken = await this.bucket.update(slot, JSON.stringify(mine), entry.revision).catch(() => undefined);
      if (taken !== undefined) return this.ours(slot, mine, taken);
    }
    throw inProgress('another call with this Idempotency-Key is claiming it right now');
  }

  private ours(slot: string, claim: StoredClaim, revision: number): IdempotencyClaim {
    return {
      replay: false,
      jobId: claim.job_id,
      // Best effort: a claim left unmarked still answers with its job while the record is kept.
      started: () =>
        this.bucket.update(slot, JSON.stringify({ ...claim, started: true }), revision).then(
          () => undefined,
          () => undefined,
        ),
      release: () => this.release(slot, revision),
    };
  }

  /** Frees the key for a call whose job never started, unless a retry has taken it over since. */
  private async release(slot: string, revision: number): Promise<void> {
    await this.bucket.delete(slot, { previousSeq: revision }).catch(() => undefined);
  }

  private async recordAppears(jobId: string): Promise<boolean> {
    const until = Date.now() + RECORD_WAIT_MS;
    for (;;) {
      if (await this.records.getRecord(jobId)) return true;
      if (Date.now() >= until) return false;
      await new Promise((resolve) => setTimeout(resolve, RECORD_POLL_MS));
    }
  }
}

function inProgress(why: string): ApiError {
  return new ApiError('idempotency_in_progress', `${why}; retry in a few seconds`, { headers: { 'retry-after': '3' } });
}

/** The bucket key: a digest of the API key's id and the caller's key, so no key value is stored and no two API keys share a slot. */
function slotOf(caller: IdempotencyCaller, key: string): string {
  return sha256(JSON.stringify([caller.sub, caller.jti, key]));
}

/** A digest of the operation, target, parameters with their keys sorted, and the credential and file body's digests. */
export function requestDigest(request: IdempotentRequest): string {
  const canonical = {
    operation: request.operation,
    target: request.target,
    params: request.params,
    secret_sha256: request.secret === undefined ? null : sha256(request.secret),
    upload_sha256: request.uploadDigest ?? null,
  };
  try {
    return sha256(JSON.stringify(canonical, sortedKeys));
  } catch (err) {
    throw badRequest(`the request's parameters cannot be digested for its Idempotency-Key: ${(err as Error).message}`);
  }
}

function sortedKeys(_key: string, value: unknown): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  return Object.fromEntries(Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
