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
 * The audit trail, in a JetStream stream (file storage) so every gateway
 * replica writes to and reads from the same trail. Writing never delays or
 * fails the request it describes; a write that fails is logged.
 */
export class AuditLog {
  constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly log: Logger,
  ) {}

  record(entry: AuditEntry): void {
    this.js.publish(AUDIT_SUBJECT, JSON.stringify(entry)).catch((err) => this.log.error({ err, path: entry.path }, 'audit write failed'));
  }

  list(filter: AuditFilter, limit: number, cursor?: number): Promise<Page<AuditEntry>> {
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
