import { randomUUID } from 'node:crypto';
import type { JetStreamClient } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import type { Logger } from 'pino';
import { kvSubject, RESULTS_BUCKET, resultKey, type HostRow, type JobMessage } from '@fleet/contracts/protocol';
import { isWrongLastSequence } from '@fleet/runtime/nats';

/** How long past the deadline an executed job's row is still retried. */
const REPORT_RETRY_MS = 60_000;

export type ClaimOutcome = 'claimed' | 'taken' | 'retry';

/** Pauses between attempts of one claim; the last one repeats. */
const CLAIM_RETRY_PAUSES_MS = [100, 250, 500, 1000];
/** One claim attempt waits at most this long for the broker's answer, so a stream electing its leader is soon asked again. */
const CLAIM_ATTEMPT_TIMEOUT_MS = 2_000;
/** How long one claim is tried: well within the results stream's duplicate window (2 minutes), which its message id relies on. */
const CLAIM_RETRY_MS = 60_000;

/**
 * Claims `<job_id>.<hostname>` before a mutation touches the engine: a redelivered message, a restarted
 * agent or a job the gateway already timed out all find the claim taken. `retry`: the broker could not
 * say in time, so the delivery is asked for again.
 *
 * An attempt whose answer is lost (its NATS node died, its stream changed leader) may still have been
 * stored. Its retry must not read that claim as someone else's, or the job would be left unrun with a
 * `running` row until it timed out. So the attempts of one claim carry one message id: JetStream answers
 * a repeat of a stored one as a duplicate (its id is checked before the expected sequence), while any
 * other delivery of the job claims under an id of its own and finds the key taken.
 */
export async function claimJob(
  js: Pick<JetStreamClient, 'publish'>,
  job: JobMessage,
  hostname: string,
  log: Logger,
): Promise<ClaimOutcome> {
  const running: HostRow = { hostname, status: 'running', changed: false };
  const subject = kvSubject(RESULTS_BUCKET, resultKey(job.job_id, hostname));
  // An atomic create: stored only if the key has no entry at all. (KV's create() would read the
  // existing entry back on failure, a read the agent's NATS permissions refuse.)
  const options = { msgID: `claim.${randomUUID()}`, expect: { lastSubjectSequence: 0 }, timeout: CLAIM_ATTEMPT_TIMEOUT_MS };
  const giveUpAt = Math.min(job.deadline, Date.now() + CLAIM_RETRY_MS);
  for (let attempt = 0; ; attempt++) {
    try {
      const ack = await js.publish(subject, JSON.stringify(running), options);
      if (ack.duplicate) log.info({ job_id: job.job_id, attempt: attempt + 1 }, 'claimed by an earlier attempt whose answer was lost');
      return 'claimed';
    } catch (err) {
      // The key has an entry: this (job, host) was claimed (or, for a read, answered) before.
      if (isWrongLastSequence(err)) return 'taken';
      const pause = CLAIM_RETRY_PAUSES_MS[Math.min(attempt, CLAIM_RETRY_PAUSES_MS.length - 1)];
      if (Date.now() + pause >= giveUpAt) {
        log.warn({ err, job_id: job.job_id }, 'claim failed; asking for redelivery');
        return 'retry';
      }
      log.warn({ err: (err as Error).message, job_id: job.job_id, attempt: attempt + 1 }, 'claim failed; trying again under the same id');
      await new Promise((resolve) => setTimeout(resolve, pause));
    }
  }
}

/**
 * Writes a final row. It must land even if the broker is restarting: writing the same row under the
 * same key again is harmless, so it is retried for a while. `first` writes only where there is no row
 * yet (an unclaimed read, a refusal) and answers false when one was there; `overwrite` replaces the claim.
 */
export async function writeRow(
  results: KV,
  job: Pick<JobMessage, 'job_id' | 'deadline'>,
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
      if (mode === 'first' && isWrongLastSequence(err)) return false;
      if (Date.now() >= giveUpAt) throw err;
      log.warn({ err: (err as Error).message, attempt }, 'writing the result failed; retrying');
      await new Promise((resolve) => setTimeout(resolve, Math.min(2000, 100 * attempt)));
    }
  }
}
