import type { HostRow, JobRecord, JobStatus } from '@fleet/contracts/protocol';

/** A host the job waits for and has not reached yet (README "Jobs that wait for a host"). */
export function waitingRow(hostname: string, until: string): HostRow {
  return { hostname, status: 'waiting', changed: false, waiting_until: until };
}

/** The final row of a host the job waited for in vain, or stopped waiting for: nothing was sent to it. */
export function unreachedRow(hostname: string, why: string): HostRow {
  return { hostname, status: 'skipped', changed: false, skipped_reason: why };
}

/** Until when a job still waits for hosts at `now`; undefined for a job that does not, or no longer does. */
export function waitingUntil(record: Pick<JobRecord, 'wait'>, now: number): string | undefined {
  return record.wait && Date.parse(record.wait.until) > now ? record.wait.until : undefined;
}

/**
 * A waiting job no host has reached yet has no row: it is pending while it waits, and failed once the wait is over
 * (it ran nowhere). Undefined when its rows say its status.
 */
export function hostlessStatus(record: Pick<JobRecord, 'wait'>, rows: readonly HostRow[], now: number): JobStatus | undefined {
  if (!record.wait || rows.length > 0) return undefined;
  return waitingUntil(record, now) ? 'pending' : 'failed';
}
