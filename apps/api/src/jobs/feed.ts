import type { NatsConnection } from '@nats-io/transport-node';
import { parseResultKey, RESULTS_BUCKET, type HostRow } from '@fleet/contracts/protocol';
import { followBucket } from '@fleet/runtime/nats';

export type RowListener = (hostname: string, row: HostRow) => void;

/**
 * One subscription per gateway for every row written by any agent, fanned out
 * in memory to whoever waits on that job. The hostname comes from the key
 * (the subject the row was published on), which an agent's NATS permissions
 * bind to its own hostname; a hostname inside the payload is ignored.
 */
export class ResultFeed {
  private readonly listeners = new Map<string, Set<RowListener>>();
  private readonly reconnectListeners = new Set<() => void>();
  private unfollow?: () => void;

  start(nc: NatsConnection): void {
    this.unfollow = followBucket(nc, RESULTS_BUCKET, ({ key, deleted, value }) => {
      const parsed = deleted ? undefined : parseResultKey(key);
      const listeners = parsed && this.listeners.get(parsed.jobId);
      if (!parsed || !listeners) return;
      const row = decodeRow(value);
      if (!row) return;
      row.hostname = parsed.hostname;
      listeners.forEach((listener) => listener(parsed.hostname, row));
    });
    void (async () => {
      for await (const status of nc.status()) if (status.type === 'reconnect') this.reconnectListeners.forEach((listener) => listener());
    })();
  }

  /**
   * Called after every reconnect to NATS. The feed is a core subscription: rows written while this
   * gateway was disconnected (its NATS node died, say) were never heard and must be read back.
   */
  onReconnect(listener: () => void): () => void {
    this.reconnectListeners.add(listener);
    return () => this.reconnectListeners.delete(listener);
  }

  stop(): void {
    this.unfollow?.();
  }

  watch(jobId: string, listener: RowListener): () => void {
    const set = this.listeners.get(jobId) ?? new Set<RowListener>();
    set.add(listener);
    this.listeners.set(jobId, set);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.listeners.delete(jobId);
    };
  }
}

const decoder = new TextDecoder();

function decodeRow(value: Uint8Array): HostRow | undefined {
  try {
    return JSON.parse(decoder.decode(value)) as HostRow;
  } catch {
    return undefined;
  }
}
