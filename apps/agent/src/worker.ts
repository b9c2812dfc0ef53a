import type { PushConsumerMessagesImpl } from '@nats-io/jetstream/internal';
import type { JetStreamClient, JetStreamManager, JsMsg } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type Docker from 'dockerode';
import type { Logger } from 'pino';
import { jobSealRefusal } from '@fleet/contracts/host-grant';
import { jobTraits } from '@fleet/contracts/operations';
import { earlyRowSubject, type HostRow, type JobMessage } from '@fleet/contracts/protocol';
import { bindJobConsumer, hasJobConsumer } from './consumer';
import { endsBeforeRedelivery, isOwnDelivery, parseJob } from './delivery';
import { executeWhenFree } from './execute';
import type { ExecutorTable } from './executors/types';
import { gatedRow } from './health-gate';
import type { HostObjects } from './host-objects';
import { admitJob, hostRefusalRow, namedAsCalled, type AdmittedJob, type HostPolicy, type HostRefusal } from './host-policy';
import { claimJob, writeRow } from './results-bucket';
import { encodeWithinRowCap } from './row-cap';
import { Semaphore } from './semaphore';
import type { HostStacks } from './stacks/host-stacks';

export interface WorkerDeps {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  results: KV;
  docker: Docker;
  hostname: string;
  executors: ExecutorTable;
  concurrency: number;
  /** Slots of their own for jobs that may run until their deadline, so they never starve the rest. */
  longRunningConcurrency: number;
  /** Output kept per stream of a row. */
  maxOutputBytes: number;
  stacks: HostStacks;
  hostPolicy: HostPolicy;
  /** Judges the existing objects a job uses (a privileged container, a bind volume, a macvlan network). */
  hostObjects: HostObjects;
  log: Logger;
  /** Called with each executed job's row (metrics). */
  onExecuted?: (job: JobMessage, row: HostRow) => void;
}

/**
 * Consumes this host's jobs and runs each mutation at most once. Before touching the
 * engine the worker claims `<job_id>.<hostname>` in the results bucket with an
 * atomic create: a redelivered message, a restarted agent or a job the gateway
 * already timed out all find the claim taken and are acknowledged unexecuted.
 * A plain read (jobTraits: not mutating, not a stream, not a download) needs no claim:
 * running it twice harms nothing, and its row is written by an atomic create instead,
 * so the first row written for it (its own, or the gateway's timeout) is the one that stays.
 * A failed Docker call is a result row, never a reason to redeliver.
 */
export class JobWorker {
  private readonly slots: Semaphore;
  private readonly longRunningSlots: Semaphore;
  private stopConsuming?: () => Promise<void>;
  private stopped = false;
  /** Deliveries being handled: a rotating agent closes its old login only once they are settled. */
  private readonly handling = new Set<Promise<void>>();

  constructor(private readonly deps: WorkerDeps) {
    this.slots = new Semaphore(deps.concurrency);
    this.longRunningSlots = new Semaphore(deps.longRunningConcurrency);
  }

  async start(): Promise<void> {
    const { js, hostname, log } = this.deps;
    const onDelivery = (msg: JsMsg, ackWaitMs: number) => {
      const handled = this.handle(msg, ackWaitMs).catch((err) => log.error({ err, subject: msg.subject }, 'job handling failed'));
      this.handling.add(handled);
      void handled.finally(() => this.handling.delete(handled));
    };
    const messages = await bindJobConsumer(js, hostname, log, onDelivery, () => this.stopped);
    this.stopConsuming = async () => {
      // Drained, not just closed: deliveries already on their way (sent before the server took the
      // unsubscribe) are still handled, instead of waiting out their ack_wait to be delivered again.
      await (messages as PushConsumerMessagesImpl).sub?.drain().catch(() => undefined);
      await messages.close();
    };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.stopConsuming?.();
  }

  /** Resolves once every delivery taken so far is handled: its row written and the job acked. */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.handling]);
  }

  /** True once the gateway created this host's consumer (when the host was accepted). */
  hasConsumer(): Promise<boolean> {
    return hasJobConsumer(this.deps.jsm, this.deps.hostname);
  }

  private async handle(msg: JsMsg, ackWaitMs: number): Promise<void> {
    const accepted = await this.acceptDelivery(msg);
    if (accepted) await this.run(accepted.job, accepted.log, msg, ackWaitMs);
  }

  /**
   * The delivery's job, when this agent may run it. Anything else is settled here: a delivery that is
   * not its own is left alone, one that is no job is terminated, and an unsealed or late job is acked unrun.
   */
  private async acceptDelivery(msg: JsMsg): Promise<{ job: JobMessage; log: Logger } | undefined> {
    const { hostname, hostPolicy } = this.deps;
    if (!isOwnDelivery(msg, hostname)) {
      // Not acked: it is not ours to settle. Whoever pointed a consumer here learns nothing from us.
      const refusal = "refused a delivery that is not from this host's own stream, consumer and job subject";
      this.deps.log.error({ subject: msg.subject }, refusal);
      return undefined;
    }
    const job = parseJob(msg);
    if (!job) {
      msg.term();
      return undefined;
    }
    const log = this.deps.log.child({ job_id: job.job_id, operation: job.operation, target: job.target });
    const sealRefusal = jobSealRefusal(job as unknown as Record<string, unknown>, hostname, hostPolicy.grantKey);
    if (sealRefusal) {
      msg.ack();
      await this.refuseUnsealed(job, sealRefusal, log);
      return undefined;
    }
    if (Date.now() >= job.deadline) {
      msg.ack();
      log.warn('job arrived past its deadline; not executed');
      return undefined;
    }
    return { job, log };
  }

  /** Claims a mutation, acks, runs the job and writes its row: announced at once, then stored. */
  private async run(job: JobMessage, log: Logger, msg: JsMsg, ackWaitMs: number): Promise<void> {
    const { hostname } = this.deps;
    const traits = jobTraits(job.operation, { streaming: job.stream === true });
    const claim = traits.plainRead ? 'not needed' : await whileHeld(msg, ackWaitMs, claimJob(this.deps.js, job, hostname, this.deps.log));
    if (claim === 'retry') {
      msg.nak(1000);
      return;
    }
    const slots = traits.longRunning ? this.longRunningSlots : this.slots;
    // A plain read that starts at once and ends before redelivery is acked with its row (delivery.ts).
    const storedAt = msg.info.timestampNanos / 1e6;
    const ackWithRow = traits.plainRead && slots.hasFreeSlot && endsBeforeRedelivery(job.deadline, storedAt, ackWaitMs);
    if (!ackWithRow) msg.ack();
    if (claim === 'taken') {
      log.info('job already claimed on this host; not executed again');
      return;
    }
    const ran = await this.admitAndExecute(job, slots, log);
    // README "Rollouts": a step that succeeded passes its health gate before the host counts as passed.
    const { row, json } = encodeWithinRowCap(
      job.health && ran.status === 'ok' ? await gatedRow({ ...job, health: job.health }, ran, this.deps) : ran,
    );
    this.deps.onExecuted?.(job, row);
    // Heard at once by the waiting gateway; the durable write below is what every replica reads later.
    this.deps.nc.publish(earlyRowSubject(job.job_id, hostname), json);
    // In the same write to the broker as the row and its durable write (the client sends what one tick queued together).
    if (ackWithRow) msg.ack();
    const stored = await writeRow(this.deps.results, job, hostname, json, traits.plainRead ? 'first' : 'overwrite', log);
    if (!stored) log.info('row already written for this read (a repeated delivery, or the deadline passed); kept it');
    log.info({ status: row.status, changed: row.changed, duration_ms: row.duration_ms }, 'job done');
  }

  /** The job's row: a refusal when it reaches the host without leave, else what the engine answered. */
  private async admitAndExecute(job: JobMessage, slots: Semaphore, log: Logger): Promise<HostRow> {
    const { hostname, hostPolicy, hostObjects } = this.deps;
    const admitted: HostRefusal | AdmittedJob = await admitJob(job, hostname, hostPolicy, hostObjects);
    if ('refusal' in admitted) {
      log.warn({ refusal: admitted.refusal }, 'job reaches the host without leave; not executed');
      return hostRefusalRow(hostname, admitted);
    }
    return namedAsCalled(await executeWhenFree(admitted.job, slots, this.deps, log), admitted);
  }

  /**
   * A job the gateway did not seal for this host is not run. Its row says why, written only where
   * there is none yet: a forged message reusing a real job's id never overwrites that job's row.
   */
  private async refuseUnsealed(job: JobMessage, refusal: string, log: Logger): Promise<void> {
    const { hostname, results } = this.deps;
    log.error({ refusal }, 'refused a job without a valid seal from the gateway; not executed');
    const row: HostRow = { hostname, status: 'failed', changed: false, error: `job refused: ${refusal}`, error_code: 403 };
    await writeRow(results, job, hostname, encodeWithinRowCap(row).json, 'first', log).catch((err: Error) =>
      log.warn({ err: err.message }, 'the refusal row was not written'),
    );
  }
}

/** Tells the broker the delivery is being worked on while `work` runs (a claim retried through a failover), so it is not sent again. */
async function whileHeld<T>(msg: JsMsg, ackWaitMs: number, work: Promise<T>): Promise<T> {
  const keepAlive = ackWaitMs > 0 ? setInterval(() => msg.working(), ackWaitMs / 2) : undefined;
  try {
    return await work;
  } finally {
    clearInterval(keepAlive);
  }
}
