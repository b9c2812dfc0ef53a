import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import type { Logger } from 'pino';
import { AUDIT_STREAM, AUDIT_SUBJECT } from '@fleet/contracts/protocol';
import { scanNewestFirst, type Page } from '../nats/scan';

/** One authenticated (or refused) request. Never holds a key or a credential: only who, what and how it ended. */
export interface AuditEntry {
  time: string;
  caller: string | null;
  role: string | null;
  key_id: string | null;
  method: string;
  path: string;
  target: string | null;
  job_id: string | null;
  status: number;
  duration_ms: number;
}

export interface AuditFilter {
  caller?: string;
  method?: string;
  status?: number;
  target?: string;
  job_id?: string;
  /** Whether the caller may see this entry (a scoped key's view); default every entry. */
  visible?: (entry: AuditEntry) => boolean;
}

/**
 * Entries wait at most this long before they are published, so that the entries of calls ending
 * together go to the broker in one socket write instead of one write each (a write to the broker
 * was the gateway's costliest native call per request). The answer never waits for its entry.
 */
const BATCH_WINDOW_MS = 10;
/** A batch this large goes out at once rather than waiting out its window. */
const BATCH_MAX_ENTRIES = 256;

/**
 * The audit trail, in a JetStream stream (file storage) so every gateway
 * replica writes to and reads from the same trail. Writing never delays or
 * fails the request it describes; every entry is one acknowledged publish, and
 * a write that fails is logged. `flush` publishes what is waiting (the gateway
 * calls it before it disconnects, so a stop loses no entry). A list through a
 * gateway shows every call that gateway has answered, waiting or not.
 */
export class AuditLog {
  private waiting: AuditEntry[] = [];
  private timer?: NodeJS.Timeout;
  /** Batches sent and not yet acknowledged. */
  private readonly unacknowledged = new Set<Promise<void>>();

  constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly log: Logger,
  ) {}

  record(entry: AuditEntry): void {
    this.waiting.push(entry);
    if (this.waiting.length >= BATCH_MAX_ENTRIES) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), BATCH_WINDOW_MS);
  }

  /**
   * Publishes every waiting entry (in one go: the client sends them in one write) and awaits their
   * acknowledgements, and those of batches sent before.
   */
  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.waiting;
    this.waiting = [];
    if (batch.length > 0) {
      const sent = Promise.all(
        batch.map((entry) => this.js.publish(AUDIT_SUBJECT, JSON.stringify(entry)).then(
          () => undefined,
          (err: unknown) => this.log.error({ err, path: entry.path }, 'audit write failed'),
        )),
      ).then(() => undefined);
      this.unacknowledged.add(sent);
      void sent.finally(() => this.unacknowledged.delete(sent));
    }
    await Promise.all(this.unacknowledged);
  }

  /** Newest first; the calls this gateway answered are in the trail before it is read. */
  async list(filter: AuditFilter, limit: number, cursor?: number): Promise<Page<AuditEntry>> {
    await this.flush();
    return scanNewestFirst<AuditEntry>(this.jsm, AUDIT_STREAM, { limit, cursor, accept: (entry) => matches(entry, filter) });
  }
}

function matches(entry: AuditEntry, filter: AuditFilter): boolean {
  return (
    (filter.caller === undefined || entry.caller === filter.caller) &&
    (filter.method === undefined || entry.method === filter.method) &&
    (filter.status === undefined || entry.status === filter.status) &&
    (filter.target === undefined || entry.target === filter.target) &&
    (filter.job_id === undefined || entry.job_id === filter.job_id) &&
    (filter.visible === undefined || filter.visible(entry))
  );
}
