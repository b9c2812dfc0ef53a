import type { KV } from '@nats-io/kv';

/** A rollout's lease not renewed for this long is taken over by another replica. */
export const LEASE_MS = 10_000;
/** How often the holder renews it: a few renewals may fail before the lease is given up. */
export const LEASE_RENEW_MS = 2_000;
/** How often every replica looks for leases left unrenewed. */
export const LEASE_SCAN_MS = 2_500;

/** What a lease stores: which replica runs the rollout. Its liveness is the key's revision changing, not a clock. */
interface LeaseValue {
  holder: string;
}

/** The part of a KV bucket the leases use: atomic create, revision-checked update and delete. */
export type LeaseBucket = Pick<KV, 'create' | 'update' | 'get' | 'delete' | 'keys'>;

export interface LeaseOptions {
  /** A lease not renewed for this long, as this replica sees it, may be taken over. */
  leaseMs: number;
  now?: () => number;
}

/** A rollout this replica runs, for as long as it keeps renewing the lease. */
export interface RolloutLease {
  readonly jobId: string;
  /** False once a renewal failed: another replica may have taken the rollout, so this one sends nothing more. */
  held(): boolean;
  /** Writes the lease again over the revision it holds; false (and lost for good) when that revision is no longer the bucket's. */
  renew(): Promise<boolean>;
  /** The rollout ended: the key goes, so no replica takes it over. */
  release(): Promise<void>;
}

/**
 * Rollout leases (README "Rollouts") in a KV bucket of the broker: the replica running a rollout holds
 * the key of its job id and renews it, each renewal a compare-and-set on the revision it holds. A
 * replica that sees a key's revision unchanged for `leaseMs` of its own clock takes it over by the
 * same compare-and-set on that revision: of replicas racing for one rollout, exactly one wins, and the
 * former holder's next renewal fails, so two replicas never send its waves. Expiry is judged on the
 * observer's clock from the revision it saw, so no two replicas' clocks are compared.
 */
export class RolloutLeases {
  /** When this replica first saw each key at its current revision. */
  private readonly seen = new Map<string, { revision: number; since: number }>();
  private readonly now: () => number;

  constructor(
    private readonly bucket: LeaseBucket,
    readonly holder: string,
    private readonly options: LeaseOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  /** Claims the lease of a new rollout; throws when the key exists (a job id is claimed once). */
  async claim(jobId: string): Promise<RolloutLease> {
    const revision = await this.bucket.create(jobId, this.value());
    return this.lease(jobId, revision);
  }

  /** Job ids whose lease has not been renewed for `leaseMs` since this replica first saw its revision. */
  async expired(): Promise<Array<{ jobId: string; revision: number }>> {
    const now = this.now();
    const present = new Set<string>();
    const expired: Array<{ jobId: string; revision: number }> = [];
    for await (const jobId of await this.bucket.keys()) {
      const entry = await this.bucket.get(jobId).catch(() => null);
      if (!entry || entry.operation !== 'PUT') continue;
      present.add(jobId);
      const seen = this.seen.get(jobId);
      if (!seen || seen.revision !== entry.revision) this.seen.set(jobId, { revision: entry.revision, since: now });
      // Its own lease too: a holder renews far more often than this, so one of its own unrenewed is one it lost.
      else if (now - seen.since >= this.options.leaseMs) expired.push({ jobId, revision: entry.revision });
    }
    for (const jobId of this.seen.keys()) if (!present.has(jobId)) this.seen.delete(jobId);
    return expired;
  }

  /** Takes an expired lease over at the revision seen expired; undefined when another replica renewed or took it first. */
  async takeOver(jobId: string, revision: number): Promise<RolloutLease | undefined> {
    const taken = await this.bucket.update(jobId, this.value(), revision).catch(() => undefined);
    return taken === undefined ? undefined : this.lease(jobId, taken);
  }

  private value(): string {
    return JSON.stringify({ holder: this.holder } satisfies LeaseValue);
  }

  private lease(jobId: string, claimed: number): RolloutLease {
    let revision: number | undefined = claimed;
    return {
      jobId,
      held: () => revision !== undefined,
      renew: async () => {
        if (revision === undefined) return false;
        revision = await this.bucket.update(jobId, this.value(), revision).catch(() => undefined);
        return revision !== undefined;
      },
      release: async () => {
        if (revision === undefined) return;
        const last = revision;
        revision = undefined;
        await this.bucket.delete(jobId, { previousSeq: last }).catch(() => undefined);
      },
    };
  }
}
