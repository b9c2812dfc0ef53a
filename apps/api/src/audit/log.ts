import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import type { Logger } from 'pino';
import { AUDIT_STREAM, AUDIT_SUBJECT } from '@fleet/contracts/protocol';
import { scanNewestFirst, type Page } from '../nats/scan';
import type { AuditBudget } from './budget';
import { AUDIT_FULL_MESSAGE, isStreamFull, type AuditCapacity } from './capacity';

/**
 * One authenticated (or refused) request, or a summary of one key's calls past its budget (budget.ts);
 * the contract's `AuditEntry`. Never holds a key or a credential: only who, what and how it ended.
 */
export interface AuditEntry {
  kind?: 'call' | 'summary';
  time: string;
  caller: string | null;
  role: string | null;
  key_id: string | null;
  method: string;
  path: string;
  /** The operationId, or the Engine API proxy's endpoint (`POST /containers/{id}/start`); absent when nothing matched. */
  operation?: string;
  /** The matched route's path parameters. */
  params?: Record<string, string>;
  /** The `error` of a refused call. */
  reason?: string;
  target: string | null;
  job_id: string | null;
  status: number;
  duration_ms: number;
  summary?: {
    count: number;
    first_time: string;
    last_time: string;
    methods: Record<string, number>;
    operations: Record<string, number>;
    statuses: Record<string, number>;
  };
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

export interface AuditLimits {
  /** Folds a key's calls past its budget into summaries; without it every call is written in full. */
  budget?: AuditBudget;
  /** How long one budget window lasts; its summaries are written when it closes. */
  windowMs?: number;
  /** Tells when the stream is full (and counts what it refused). */
  capacity?: AuditCapacity;
}

/**
 * The audit trail, in a JetStream stream (file storage) so every gateway
 * replica writes to and reads from the same trail. Writing never delays or
 * fails the request it describes; every entry is one acknowledged publish, and
 * an entry the broker does not take is counted and logged, whole, one by one
 * (also in a batch). `stop` publishes what is waiting and the open window's
 * summaries (the gateway calls it before it disconnects, so a stop loses no
 * entry). A list through a gateway shows every call that gateway has answered,
 * waiting or not.
 */
export class AuditLog {
  private waiting: AuditEntry[] = [];
  private timer?: NodeJS.Timeout;
  private windowTimer?: NodeJS.Timeout;
  /** Batches sent and not yet acknowledged. */
  private readonly unacknowledged = new Set<Promise<void>>();

  constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly log: Logger,
    private readonly limits: AuditLimits = {},
  ) {}

  /** Whether the stream has no room for another entry: calls that change something are then refused (http/audit-gate.ts). */
  get full(): boolean {
    return this.limits.capacity?.full ?? false;
  }

  /**
   * Records one call. `changedNothing`: a read, or a call refused before anything was dispatched; such a
   * call goes into its key's summary once the key is past its budget. Any other call is written in full.
   */
  record(entry: AuditEntry, changedNothing = false): void {
    if (changedNothing && this.limits.budget && !this.limits.budget.admit(entry)) return;
    this.enqueue(entry);
  }

  /** Starts closing budget windows (writing their summaries) and watching the stream's fill. */
  start(): void {
    this.limits.capacity?.start();
    if (!this.limits.budget) return;
    this.windowTimer = setInterval(() => this.closeWindow(), this.limits.windowMs ?? 60_000);
    this.windowTimer.unref();
  }

  /** Writes the open window's summaries and everything waiting. */
  async stop(): Promise<void> {
    clearInterval(this.windowTimer);
    this.limits.capacity?.stop();
    this.closeWindow();
    await this.flush();
  }

  private closeWindow(): void {
    for (const summary of this.limits.budget?.closeWindow() ?? []) this.enqueue(summary);
  }

  private enqueue(entry: AuditEntry): void {
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
        batch.map((entry) =>
          this.js.publish(AUDIT_SUBJECT, JSON.stringify(entry)).then(
            () => undefined,
            (err: unknown) => this.refused(entry, err),
          ),
        ),
      ).then(() => undefined);
      this.unacknowledged.add(sent);
      void sent.finally(() => this.unacknowledged.delete(sent));
    }
    await Promise.all(this.unacknowledged);
  }

  /** The entry goes to the log instead, whole (it holds no secret): the log is the trail while the stream refuses. */
  private refused(entry: AuditEntry, err: unknown): void {
    const full = isStreamFull(err);
    this.limits.capacity?.refused(full);
    if (full) this.log.error({ audit_entry: entry }, AUDIT_FULL_MESSAGE);
    else this.log.error({ err, path: entry.path, audit_entry: entry }, 'audit write failed');
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
