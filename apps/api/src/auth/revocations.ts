import type { KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { REVOKED_BUCKET } from '@fleet/contracts/protocol';
import { followBucket } from '@fleet/runtime/nats';

/**
 * Revoked key ids, shared by every gateway replica through a KV bucket and
 * mirrored in memory, so checking a key costs no round trip and a revocation
 * made on one replica holds on all of them from the next request.
 */
export class Revocations {
  private readonly revoked = new Set<string>();
  private unfollow?: () => void;

  constructor(private readonly bucket: KV) {}

  async start(nc: NatsConnection): Promise<void> {
    this.unfollow = followBucket(nc, REVOKED_BUCKET, ({ key, deleted }) => (deleted ? this.revoked.delete(key) : this.revoked.add(key)));
    await this.reload();
    void this.reloadOnReconnect(nc);
  }

  /**
   * The bucket is followed by a core subscription, which hears nothing while this replica is cut
   * off from NATS: a key revoked on another replica meanwhile would still be let in here. Every
   * reconnect therefore reads the whole list again (a failed read is retried at the next one).
   */
  private async reloadOnReconnect(nc: NatsConnection): Promise<void> {
    for await (const status of nc.status()) {
      if (status.type === 'reconnect') await this.reload().catch(() => undefined);
    }
  }

  private async reload(): Promise<void> {
    for await (const key of await this.bucket.keys()) this.revoked.add(key);
  }

  stop(): void {
    this.unfollow?.();
  }

  isRevoked(jti: string): boolean {
    return this.revoked.has(jti);
  }

  async revoke(jti: string, by: string): Promise<void> {
    await this.bucket.put(jti, JSON.stringify({ by, at: new Date().toISOString() }));
    this.revoked.add(jti);
  }
}
