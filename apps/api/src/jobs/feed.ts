import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import {
  earlyRowSubject,
  jobRecordSubject,
  parseEarlyRowSubject,
  parseResultKey,
  RESULTS_BUCKET,
  type HostRow,
  type JobHost,
  type JobRecord,
} from '@fleet/contracts/protocol';
import { followBucket } from '@fleet/runtime/nats';

export type RowListener = (hostname: string, row: HostRow) => void;
export type AnyRowListener = (jobId: string, hostname: string, row: HostRow) => void;
export type RecordListener = (record: JobRecord) => void;

/**
 * One subscription per gateway for every row written by any agent, fanned out
 * in memory to whoever waits on that job; and one for the rows agents announce
 * on core NATS before writing them (earlyRowSubject), so a waiting call ends as
 * soon as the agent has its row. A listener may hear a row twice (early, then
 * stored). The hostname comes from the key or subject the row was published on,
 * which an agent's NATS permissions bind to its own hostname; a hostname inside
 * the payload is ignored. A third subscription hears every job record as it is stored, by any
 * replica (only gateways may publish there), for the live jobs list (GET /feed/jobs).
 */
export class ResultFeed {
  private readonly listeners = new Map<string, Set<RowListener>>();
  private readonly anyRowListeners = new Set<AnyRowListener>();
  private readonly recordListeners = new Set<RecordListener>();
  private readonly reconnectListeners = new Set<() => void>();
  private unfollow?: () => void;
  private early?: Subscription;
  private records?: Subscription;
  private nc?: NatsConnection;

  start(nc: NatsConnection): void {
    this.unfollow = followBucket(nc, RESULTS_BUCKET, ({ key, deleted, value }) => {
      if (!deleted) this.deliver(parseResultKey(key), value);
    });
    this.early = nc.subscribe(earlyRowSubject('*', '*'), {
      callback: (err, msg) => {
        if (!err) this.deliver(parseEarlyRowSubject(msg.subject), msg.data);
      },
    });
    this.nc = nc;
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
    this.records?.unsubscribe();
  }

  /** `sender` is read from the subject the row came on. */
  private deliver(parsed: JobHost | undefined, value: Uint8Array): void {
    const listeners = parsed && this.listeners.get(parsed.jobId);
    if (!parsed || (!listeners && this.anyRowListeners.size === 0)) return;
    const row = decodeJson<HostRow>(value);
    if (!row) return;
    row.hostname = parsed.hostname;
    listeners?.forEach((listener) => listener(parsed.hostname, row));
    this.anyRowListeners.forEach((listener) => listener(parsed.jobId, parsed.hostname, row));
  }

  /** Every row of every job (a listener filters what it may pass on). */
  watchAllRows(listener: AnyRowListener): () => void {
    this.anyRowListeners.add(listener);
    return () => this.anyRowListeners.delete(listener);
  }

  /**
   * Every job record as it is stored, from now on. The gateway subscribes to the records only while
   * someone listens: otherwise every job would come back to it once more, for nobody.
   */
  watchRecords(listener: RecordListener): () => void {
    this.recordListeners.add(listener);
    this.records ??= this.nc?.subscribe(jobRecordSubject('*'), {
      callback: (err, msg) => {
        const record = err ? undefined : decodeJson<JobRecord>(msg.data);
        if (record?.job_id && Array.isArray(record.hosts)) this.recordListeners.forEach((each) => each(record));
      },
    });
    return () => {
      this.recordListeners.delete(listener);
      if (this.recordListeners.size > 0) return;
      this.records?.unsubscribe();
      this.records = undefined;
    };
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

function decodeJson<T>(value: Uint8Array): T | undefined {
  try {
    return JSON.parse(decoder.decode(value)) as T;
  } catch {
    return undefined;
  }
}
