import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { earlyRowSubject, parseEarlyRowSubject, parseResultKey, RESULTS_BUCKET, type HostRow, type JobHost } from '@fleet/contracts/protocol';
import { followBucket } from '@fleet/runtime/nats';

export type RowListener = (hostname: string, row: HostRow) => void;

/**
 * One subscription per gateway for every row written by any agent, fanned out
 * in memory to whoever waits on that job; and one for the rows agents announce
 * on core NATS before writing them (earlyRowSubject), so a waiting call ends as
 * soon as the agent has its row. A listener may hear a row twice (early, then
 * stored). The hostname comes from the key or subject the row was published on,
 * which an agent's NATS permissions bind to its own hostname; a hostname inside
 * the payload is ignored.
 */
export class ResultFeed {
  private readonly listeners = new Map<string, Set<RowListener>>();
  private readonly reconnectListeners = new Set<() => void>();
  private unfollow?: () => void;
  private early?: Subscription;

  start(nc: NatsConnection): void {
    this.unfollow = followBucket(nc, RESULTS_BUCKET, ({ key, deleted, value }) => {
      if (!deleted) this.deliver(parseResultKey(key), value);
    });
    this.early = nc.subscribe(earlyRowSubject('*', '*'), {
      callback: (err, msg) => {
        if (!err) this.deliver(parseEarlyRowSubject(msg.subject), msg.data);
      },
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
    this.early?.unsubscribe();
  }

  /** `sender` is read from the subject the row came on. */
  private deliver(parsed: JobHost | undefined, value: Uint8Array): void {
    const listeners = parsed && this.listeners.get(parsed.jobId);
    if (!parsed || !listeners) return;
    const row = decodeRow(value);
    if (!row) return;
    row.hostname = parsed.hostname;
    listeners.forEach((listener) => listener(parsed.hostname, row));
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
