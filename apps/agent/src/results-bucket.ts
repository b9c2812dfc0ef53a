import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import type { Logger } from 'pino';
import { resultKey, type HostRow, type JobMessage } from '@fleet/contracts/protocol';

/** How long past the deadline an executed job's row is still retried. */
const REPORT_RETRY_MS = 60_000;

export type ClaimOutcome = 'claimed' | 'taken' | 'retry';

/**
 * Claims `<job_id>.<hostname>` before a mutation touches the engine: a redelivered message, a restarted
 * agent or a job the gateway already timed out all find the claim taken. `retry`: the broker could not
 * say, so the delivery is asked for again.
 */
export async function claimJob(results: KV, job: JobMessage, hostname: string, log: Logger): Promise<ClaimOutcome> {
  const running: HostRow = { hostname, status: 'running', changed: false };
  try {
    // An atomic create: the write succeeds only if the key has no entry at all. (KV's create() would
    // read the existing entry back on failure, a read the agent's NATS permissions refuse.)
    await results.put(resultKey(job.job_id, hostname), JSON.stringify(running), { previousSeq: 0 });
    return 'claimed';
  } catch (err) {
    if (isClaimTaken(err)) return 'taken';
    log.warn({ err, job_id: job.job_id }, 'claim failed; asking for redelivery');
    return 'retry';
  }
}

/**
 * Writes a final row. It must land even if the broker is restarting: writing the same row under the
 * same key again is harmless, so it is retried for a while. `first` writes only where there is no row
 * yet (an unclaimed read, a refusal) and answers false when one was there; `overwrite` replaces the claim.
 */
export async function writeRow(
  results: KV,
  job: JobMessage,
  hostname: string,
  row: Uint8Array,
  mode: 'overwrite' | 'first',
  log: Logger,
): Promise<boolean> {
  const key = resultKey(job.job_id, hostname);
  const giveUpAt = Math.max(job.deadline, Date.now()) + REPORT_RETRY_MS;
  for (let attempt = 1; ; attempt++) {
    try {
      await results.put(key, row, mode === 'first' ? { previousSeq: 0 } : undefined);
      return true;
    } catch (err) {
      // Also after a retry whose first attempt was stored: either way the key holds a final row.
      if (mode === 'first' && isClaimTaken(err)) return false;
      if (Date.now() >= giveUpAt) throw err;
      log.warn({ err: (err as Error).message, attempt }, 'writing the result failed; retrying');
      await new Promise((resolve) => setTimeout(resolve, Math.min(2000, 100 * attempt)));
    }
  }
}

/**
 * A create refused because the key already has an entry: the broker answers an expected last
 * sequence of 0 with "wrong last sequence" (its "unknown" variant on newer servers), i.e. this
 * (job, host) was claimed (or, for a read, answered) before. Anything else (timeout, no permission) is not a claim.
 */
export function isClaimTaken(err: unknown): boolean {
  return (
    err instanceof JetStreamApiError &&
    (err.code === JetStreamApiCodes.StreamWrongLastSequence || err.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)
  );
}
