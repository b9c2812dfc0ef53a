import type { NatsConnection } from '@nats-io/transport-node';
import type Docker from 'dockerode';
import type { Logger } from 'pino';
import { AGENT_REPORT_GRACE_MS, type HostRow, type JobMessage } from '@fleet/contracts/protocol';
import { JobChannel } from './channel';
import { JobDeadline } from './deadline';
import { describeEngineError } from './engine';
import type { Executor, ExecutorTable } from './executors/types';
import type { Semaphore } from './semaphore';
import type { HostStacks } from './stacks/host-stacks';

/** How long before its deadline a job still waiting for an engine slot gives up. */
const QUEUE_GRACE_MS = 500;

/** How long before its deadline a stream is wound down. */
const STREAM_GRACE_MS = 750;

/** What running a job on the local engine needs. */
export interface ExecutionDeps {
  nc: NatsConnection;
  docker: Docker;
  hostname: string;
  executors: ExecutorTable;
  /** Output kept per stream of a row. */
  maxOutputBytes: number;
  stacks: HostStacks;
}

/**
 * Waits for an engine slot, but not past the deadline: a job still queued
 * behind slow engine calls when its deadline nears fails with that reason,
 * in time for its row to land, and never starts late.
 */
export function executeWhenFree(job: JobMessage, slots: Semaphore, deps: ExecutionDeps, log: Logger): Promise<HostRow> {
  return slots
    .run(() => executeJob(job, deps, log), job.deadline - QUEUE_GRACE_MS)
    .catch(() => ({
      hostname: deps.hostname,
      status: 'failed' as const,
      changed: false,
      error: 'timeout: operation did not finish by the deadline (it waited for the engine behind other jobs and was not started)',
      error_code: 504,
    }));
}

/** Runs the job's executor against the engine, bounded by the deadline; a failed Docker call is a failed row. */
export async function executeJob(job: JobMessage, deps: ExecutionDeps, log: Logger): Promise<HostRow> {
  const started = Date.now();
  const { hostname } = deps;
  const executor = deps.executors[job.operation] as Executor<typeof job.operation> | undefined;
  if (!executor) {
    const error = `operation ${job.operation} is not supported by this agent`;
    return { hostname, status: 'failed', changed: false, error, error_code: 501 };
  }
  const channel = new JobChannel(deps.nc, job, hostname);
  const giveUpAt = job.deadline - AGENT_REPORT_GRACE_MS;
  const deadline = new JobDeadline(giveUpAt);
  // A stream ends normally a little before the deadline, or when its client leaves, so its row lands in time.
  const endStream = job.stream ? new AbortController() : undefined;
  const windDownIn = Math.max(0, job.deadline - Date.now() - STREAM_GRACE_MS);
  const windDownTimer = endStream ? setTimeout(() => endStream.abort(), windDownIn) : undefined;
  const stopHearingCancel = endStream ? channel.onCancel(() => endStream.abort()) : undefined;
  let streamSignal: AbortSignal | undefined;
  try {
    const outcome = await deadline.bound(() =>
      executor(job.params as never, {
        docker: deps.docker,
        deadline: giveUpAt,
        // Made only if the executor looks at it: most reads never do.
        get signal() {
          return endStream ? (streamSignal ??= AbortSignal.any([deadline.signal, endStream.signal])) : deadline.signal;
        },
        log,
        emit: (event, data) => channel.emit(event, data),
        secret: () => channel.secret(),
        maxOutputBytes: deps.maxOutputBytes,
        upload: () => channel.upload(),
        sendFile: (source, fileHeaders = {}) => channel.sendFile(source, fileHeaders, giveUpAt, deadline.signal),
        stacks: deps.stacks,
      }),
    );
    return { hostname, status: 'ok', ...outcome, duration_ms: Date.now() - started };
  } catch (err) {
    const failure = deadline.expired
      ? { error: 'timeout: operation did not finish by the deadline', error_code: 504 }
      : describeEngineError(err);
    return { hostname, status: 'failed', changed: false, ...failure, duration_ms: Date.now() - started };
  } finally {
    clearTimeout(windDownTimer);
    stopHearingCancel?.();
  }
}
