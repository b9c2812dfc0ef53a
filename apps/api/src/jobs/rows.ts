import { isFinal, type HostRow, type JobRecord } from '@fleet/contracts/protocol';
import { waitingRow, waitingUntil } from './waiting-rows';

/** The one status rule, shared with the dashboard (packages/contracts). */
export { jobStatus } from '@fleet/contracts/protocol';

/** The row the deadline leaves for a host that never answered. */
export function timeoutRow(record: JobRecord, hostname: string): HostRow {
  return {
    hostname,
    status: 'failed',
    changed: false,
    error: `timeout: agent did not respond within ${timeoutSecondsOf(record)}s`,
    error_code: 504,
  };
}

/** The row for a host the broker would not take the job for: it never ran there. */
export function undeliveredRow(hostname: string, reason: string): HostRow {
  return { hostname, status: 'failed', changed: false, error: `job not delivered to the agent: ${reason}`, error_code: 503 };
}

export function timeoutSecondsOf(record: JobRecord): number {
  return Math.round((Date.parse(record.deadline) - Date.parse(record.created_at)) / 1000);
}

/**
 * What a host's row says right now. Past the deadline an unfinished host is a
 * timeout even if no gateway was alive to write that down, so every replica
 * answers the same.
 */
export function effectiveRow(record: JobRecord, hostname: string, stored: HostRow | undefined, now: number): HostRow {
  if (stored && isFinal(stored.status)) return { ...stored, hostname };
  if (now >= Date.parse(record.deadline)) return timeoutRow(record, hostname);
  if (stored) return { ...stored, hostname };
  // README "Jobs that wait for a host": a host without a row yet is waited for until the wait is over.
  const until = waitingUntil(record, now);
  return until ? waitingRow(hostname, until) : { hostname, status: 'pending', changed: false };
}

export function byHostname(a: HostRow, b: HostRow): number {
  return a.hostname < b.hostname ? -1 : a.hostname > b.hostname ? 1 : 0;
}
