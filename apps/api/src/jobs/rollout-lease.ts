import type { KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { ROLLOUT_LEASES_BUCKET } from '@fleet/contracts/protocol';
import { followBucket } from '@fleet/runtime/nats';

/** A rollout's lease not renewed for this long is taken over by another replica. */
export const LEASE_MS = 10_000;
/** How often the holder renews it: a few renewals may fail before the lease is given up. */
export const LEASE_RENEW_MS = 2_000;
/** How often every replica looks for leases left unrenewed. */
export const LEASE_SCAN_MS = 2_500;

/** What a lease stores: which replica runs the rollout. Its liveness is the key being written again, not a clock in it. */
interface LeaseValue {
  holder: string;
}

/** The part of a KV bucket the leases use: atomic create, revision-checked update and delete, a read, the keys. */
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
 * the key of its job id and renews it, each renewal a compare-and-set on the revision it holds. Every
 * replica follows the bucket's writes (a core subscription: no consumer to keep); a key not written
 * for `leaseMs` of this replica's own clock is read, and taken over by the same compare-and-set on the
 * revision read: of replicas racing for one rollout, exactly one wins, and the former holder's next
 * renewal fails, so it sends no further wave. No two replicas' clocks are ever compared.
 */
export class RolloutLeases {
  /** When this replica last heard each key written (its own clock). */
  private readonly lastHeard = new Map<string, number>();
  private readonly now: () => number;

  constructor(
    private readonly bucket: LeaseBucket,
    readonly holder: string,
    private readonly options: LeaseOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  /** A write to the bucket was heard: a renewal, a claim, a takeover, or a release (`deleted`). */
  heard(jobId: string, deleted: boolean): void {
    if (deleted) this.lastHeard.delete(jobId);
    else this.lastHeard.set(jobId, this.now());
  }

  /**
   * Counts every lease in the bucket as heard now: at start, and after a reconnect (writes made while this
   * replica was cut off were not heard, and a live lease must not look abandoned).
   */
  async reload(): Promise<void> {
    for await (const jobId of await this.bucket.keys()) this.heard(jobId, false);
  }

  /** Follows the bucket's writes until the returned function is called. */
  async follow(nc: NatsConnection): Promise<() => void> {
    const unfollow = followBucket(nc, ROLLOUT_LEASES_BUCKET, ({ key, deleted }) => this.heard(key, deleted));
    await this.reload();
    void this.reloadOnReconnect(nc);
    return unfollow;
  }

  private async reloadOnReconnect(nc: NatsConnection): Promise<void> {
    for await (const status of nc.status()) {
      if (status.type === 'reconnect') await this.reload().catch(() => undefined);
    }
  }

  /** Claims the lease of a new rollout; throws when the key exists (a job id is claimed once). */
  async claim(jobId: string): Promise<RolloutLease> {
    const revision = await this.bucket.create(jobId, this.value());
    return this.lease(jobId, revision);
  }

  /** Leases not written for `leaseMs`, with the revision to take each over at; a key found released is forgotten. */
  async expired(): Promise<Array<{ jobId: string; revision: number }>> {
    const now = this.now();
    const stale = [...this.lastHeard].filter(([, at]) => now - at >= this.options.leaseMs).map(([jobId]) => jobId);
    const expired: Array<{ jobId: string; revision: number }> = [];
    for (const jobId of stale) {
      const entry = await this.bucket.get(jobId).catch(() => null);
      if (!entry || entry.operation !== 'PUT') this.lastHeard.delete(jobId);
      else expired.push({ jobId, revision: entry.revision });
    }
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
