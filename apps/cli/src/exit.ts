import { CommanderError } from 'commander';
import { FleetApiError, FleetConnectionError, JobWaitTimeoutError } from '@fleet/sdk';

/**
 * The CLI's exit codes (README, "CLI"). A script can tell "the operation
 * failed on some host" (1) from "the call never ran" (2–5) and from a
 * rollout that did not run all its waves (7, 8).
 */
export const EXIT = {
  /** Every host row is `ok`. */
  OK: 0,
  /** At least one host row is not `ok` (failed, timed out, skipped), also a single-host target's failure. */
  HOST_FAILED: 1,
  /** Bad arguments or flags, or the gateway refused the input (400). */
  USAGE: 2,
  /** No key, a bad/expired/revoked key (401), or a missing permission / target outside the key's scope (403). */
  AUTH: 3,
  /** The target matched no agent, or the job or agent asked for does not exist (404). */
  NOT_FOUND: 4,
  /** Anything else: gateway unreachable, 5xx, 409 or 429 outside a job. */
  ERROR: 5,
  /** The job is still pending or running (`job get` without or past `--wait`). */
  NOT_FINISHED: 6,
  /** A rollout stopped: its failures passed `max_failures` (or its key was revoked); the hosts it never reached are `skipped`. */
  ROLLOUT_STOPPED: 7,
  /** A rollout was aborted (`fleet job abort`); the hosts it never reached are `skipped`. */
  ROLLOUT_ABORTED: 8,
} as const;

/** An invalid command line found after commander's own checks (bad --body, missing field, bad config). */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

interface Row {
  status: string;
}

const UNFINISHED: ReadonlySet<string> = new Set(['pending', 'waiting', 'running']);

export function exitCodeForRows(rows: readonly Row[]): number {
  // A `waiting` host (README "Jobs that wait for a host") may still get the job: not finished either.
  if (rows.some((row) => UNFINISHED.has(row.status)) && !rows.some((row) => row.status === 'failed')) return EXIT.NOT_FINISHED;
  return rows.every((row) => row.status === 'ok') ? EXIT.OK : EXIT.HOST_FAILED;
}

const ROLLOUT_EXITS: Readonly<Record<string, number>> = { stopped: EXIT.ROLLOUT_STOPPED, aborted: EXIT.ROLLOUT_ABORTED };
const ROLLOUT_REASONS: Readonly<Record<string, number>> = { rollout_stopped: EXIT.ROLLOUT_STOPPED, rollout_aborted: EXIT.ROLLOUT_ABORTED };

/** A rollout's outcome first (stopped, aborted), then its rows as for any job. */
export function exitCodeForJob(job: { results: readonly Row[]; rollout?: { state: string } }): number {
  return ROLLOUT_EXITS[job.rollout?.state ?? ''] ?? exitCodeForRows(job.results);
}

export function exitCodeForError(err: unknown): number {
  if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
  if (err instanceof UsageError) return EXIT.USAGE;
  if (err instanceof JobWaitTimeoutError) return EXIT.NOT_FINISHED;
  if (err instanceof FleetConnectionError) return EXIT.ERROR;
  if (!(err instanceof FleetApiError)) return EXIT.ERROR;
  // The gateway answers a rollout that did not run all its waves with a 409 of its own reason (README "Rollouts").
  const rollout = err.reason && ROLLOUT_REASONS[err.reason];
  if (rollout) return rollout;
  // The gateway ran the job and its only host failed: a host failure like any other.
  if (err.jobId) return EXIT.HOST_FAILED;
  if (err.status === 400) return EXIT.USAGE;
  if (err.status === 401 || err.status === 403) return EXIT.AUTH;
  if (err.status === 404) return EXIT.NOT_FOUND;
  return EXIT.ERROR;
}
