import { type ConsumerMessages, JetStreamApiCodes, JetStreamApiError, type JetStreamClient, type JetStreamManager, type JsMsg } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { KeyObject } from 'node:crypto';
import type Docker from 'dockerode';
import type { Logger } from 'pino';
import { hostPathsOutside, nodeOperationHostAccess, type AccessPolicy } from '@fleet/contracts/host-access';
import { hostGrantRefusal, jobSealRefusal } from '@fleet/contracts/host-grant';
import { agentDeliverSubject } from '@fleet/contracts/nats-permissions';
import { OPERATIONS } from '@fleet/contracts/operations';
import { AGENT_REPORT_GRACE_MS, agentConsumerName, earlyRowSubject, jobsStreamOf, jobSubject, resultKey, type HostRow, type JobMessage } from '@fleet/contracts/protocol';
import { JobChannel } from './channel';
import { JobDeadline } from './deadline';
import { describeEngineError } from './engine';
import { gatedRow } from './health-gate';
import type { Executor, ExecutorTable } from './executors/types';
import type { HostObjects } from './host-objects';
import { nodeOperationUses } from './host-objects';
import { Semaphore } from './semaphore';

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
  hostPolicy: HostPolicy;
  /** Judges the existing objects a job uses (a privileged container, a bind volume, a macvlan network). */
  hostObjects: HostObjects;
  log: Logger;
  /** Called with each executed job's row (metrics). */
  onExecuted?: (job: JobMessage, row: HostRow) => void;
}

/** What this agent lets reach its host (README "Host-level access"). */
export interface HostPolicy {
  /** The gateway's public key: it verifies every job's seal and every host-access grant. */
  grantKey: KeyObject;
  /** Host path prefixes a bind may expose; undefined: any path the grant covers. */
  allowedPaths?: readonly string[];
  /** What reaches the host beyond the models' own rules: the registry allowlist. */
  access: AccessPolicy;
}

/**
 * Consumes this host's jobs and runs each mutation at most once. Before touching the
 * engine the worker claims `<job_id>.<hostname>` in the results bucket with an
 * atomic create: a redelivered message, a restarted agent or a job the gateway
 * already timed out all find the claim taken and are acknowledged unexecuted.
 * A read (`x-mutating: false`, not a stream) needs no claim: running it twice harms
 * nothing, and its row is written by an atomic create instead, so the first row
 * written for it (its own, or the gateway's timeout) is the one that stays.
 * A failed Docker call is a result row, never a reason to redeliver.
 */
export class JobWorker {
  private readonly slots: Semaphore;
  private readonly longRunningSlots: Semaphore;
  private stopConsuming?: () => Promise<void>;
  private stopped = false;
  /** How long the broker waits for an ack before it delivers a job again (the consumer's ack_wait); 0 until bound. */
  private ackWaitMs = 0;

  constructor(private readonly deps: WorkerDeps) {
    this.slots = new Semaphore(deps.concurrency);
    this.longRunningSlots = new Semaphore(deps.longRunningConcurrency);
  }

  async start(): Promise<void> {
    // Each delivery is handed over as the client reads it, not through an async iterator's extra hops.
    const messages = await this.bind((msg) => {
      this.handle(msg).catch((err) => this.deps.log.error({ err, subject: msg.subject }, 'job handling failed'));
    });
    this.stopConsuming = () => messages.close().then(() => undefined);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.stopConsuming?.();
  }

  /** True once the gateway created this host's consumer (when the host was accepted). */
  async hasConsumer(): Promise<boolean> {
    const { jsm, hostname } = this.deps;
    return jsm.consumers.info(jobsStreamOf(hostname), agentConsumerName(hostname)).then(
      () => true,
      () => false,
    );
  }

  /**
   * Subscribes to the deliveries of the durable push consumer the gateway created for this host
   * (an agent may not create, change or delete consumers: README "Security model"). A pending
   * agent waits here until it is accepted. A restarted agent may find the consumer still bound to
   * its previous connection for a moment, until the server notices that connection is gone.
   */
  private async bind(onDelivery: (msg: JsMsg) => void): Promise<ConsumerMessages> {
    const { js, hostname, log } = this.deps;
    let boundSince: number | undefined;
    for (let attempt = 1; !this.stopped; attempt++) {
      const consumer = await js.consumers.getPushConsumer(jobsStreamOf(hostname), agentConsumerName(hostname)).catch(() => undefined);
      if (!consumer) {
        if (attempt % 60 === 1) log.warn('no job consumer for this host yet: waiting for an admin to accept it (fleet agent accept)');
        await sleep(CONSUMER_POLL_MS);
        continue;
      }
      const { deliver_subject: deliverSubject, ack_wait: ackWaitNanos } = (await consumer.info(true)).config;
      this.ackWaitMs = Math.floor((ackWaitNanos ?? 0) / 1e6);
      if (deliverSubject !== agentDeliverSubject(hostname)) throw new Error(`this host's consumer delivers to ${deliverSubject}, not to ${agentDeliverSubject(hostname)}`);
      boundSince ??= Date.now();
      try {
        return await consumer.consume({ callback: onDelivery });
      } catch (err) {
        if (Date.now() - boundSince >= BIND_RETRY_MS) throw err;
        await sleep(250);
      }
    }
    throw new Error('the agent stopped before its job consumer existed');
  }

  private async handle(msg: JsMsg): Promise<void> {
    if (!this.isOwnDelivery(msg)) {
      // Not acked: it is not ours to settle. Whoever pointed a consumer here learns nothing from us.
      this.deps.log.error({ subject: msg.subject }, 'refused a delivery that is not from this host\'s own stream, consumer and job subject');
      return;
    }
    const job = parseJob(msg);
    if (!job) {
      msg.term();
      return;
    }
    const log = this.deps.log.child({ job_id: job.job_id, operation: job.operation, target: job.target });
    const sealRefusal = jobSealRefusal(job as unknown as Record<string, unknown>, this.deps.hostname, this.deps.hostPolicy.grantKey);
    if (sealRefusal) {
      msg.ack();
      await this.refuseUnsealed(job, sealRefusal, log);
      return;
    }
    if (Date.now() >= job.deadline) {
      msg.ack();
      log.warn('job arrived past its deadline; not executed');
      return;
    }
    const unclaimed = isRepeatable(job);
    const claim = unclaimed ? 'claimed' : await this.claim(job);
    if (claim === 'retry') {
      msg.nak(1000);
      return;
    }
    const slots = this.slotsFor(job);
    const ackWithRow = unclaimed && this.mayAckWithRow(job, msg, slots);
    if (!ackWithRow) msg.ack();
    if (claim === 'taken') {
      log.info('job already claimed on this host; not executed again');
      return;
    }
    const admitted = await this.admit(job);
    if ('refusal' in admitted) log.warn({ refusal: admitted.refusal }, 'job reaches the host without leave; not executed');
    const ran = 'refusal' in admitted ? this.refusedRow(admitted.refusal, admitted.status) : await this.runPinned(admitted, slots, log);
    // README "Rollouts": a step that succeeded passes its health gate before the host counts as passed.
    const { row, json } = fitted(job.health && ran.status === 'ok' ? await gatedRow({ ...job, health: job.health }, ran, this.deps) : ran);
    this.deps.onExecuted?.(job, row);
    // Heard at once by the waiting gateway; the durable write below is what every replica reads later.
    this.deps.nc.publish(earlyRowSubject(job.job_id, this.deps.hostname), json);
    // In the same write to the broker as the row and its durable write (the client sends what one tick queued together).
    if (ackWithRow) msg.ack();
    const stored = await this.report(job, json, log, unclaimed ? 'first' : 'overwrite');
    if (!stored) log.info('row already written for this read (a repeated delivery, or the deadline passed); kept it');
    log.info({ status: row.status, changed: row.changed, duration_ms: row.duration_ms }, 'job done');
  }

  /**
   * A read that starts at once, and ends (by its deadline less the report grace) before the broker
   * would deliver it again, is acked together with its row: one write to the broker instead of two,
   * and none before the engine call. Should this agent die meanwhile, the read is delivered again
   * and runs again, which harms nothing (the first row written stays). The broker's redelivery
   * clock starts no earlier than the job was stored. Every other job is acked before it runs.
   */
  private mayAckWithRow(job: JobMessage, msg: JsMsg, slots: Semaphore): boolean {
    return slots.hasFreeSlot && endsBeforeRedelivery(job.deadline, msg.info.timestampNanos / 1e6, this.ackWaitMs);
  }

  /**
   * A job the gateway did not seal for this host is not run. Its row says why, written only where
   * there is none yet: a forged message reusing a real job's id never overwrites that job's row.
   */
  private async refuseUnsealed(job: JobMessage, refusal: string, log: Logger): Promise<void> {
    log.error({ refusal }, 'refused a job without a valid seal from the gateway; not executed');
    const row: HostRow = { hostname: this.deps.hostname, status: 'failed', changed: false, error: `job refused: ${refusal}`, error_code: 403 };
    await this.report(job, fitted(row).json, log, 'first').catch((err: Error) => log.warn({ err: err.message }, 'the refusal row was not written'));
  }

  /**
   * The agent's own check, whatever the gateway decided: a job whose parameters reach the host runs
   * only with a grant signed by the gateway's key for this job, host and parameters, and only on
   * host paths this agent allows. A NATS login that can publish jobs cannot forge either.
   */
  private hostAccessRefusal(job: JobMessage): string | undefined {
    const access = nodeOperationHostAccess(job.operation, job.params ?? {}, this.deps.hostPolicy.access);
    if (access.length === 0) return undefined;
    const reasons = access.map((item) => item.reason).join('; ');
    const { grantKey, allowedPaths } = this.deps.hostPolicy;
    const grantRefusal = hostGrantRefusal(job.host_grant, { job_id: job.job_id, operation: job.operation, hostname: this.deps.hostname, params: job.params ?? {} }, grantKey);
    if (grantRefusal) return `${reasons}: ${grantRefusal}`;
    const outside = allowedPaths ? hostPathsOutside(access, allowedPaths) : [];
    if (outside.length > 0) return `host path ${outside.join(', ')} is outside this agent's FLEET_AGENT_HOST_PATHS (${allowedPaths?.join(',')})`;
    return undefined;
  }

  /**
   * The job as it may run: its parameters judged (hostAccessRefusal), then the existing objects it
   * uses, unless the gateway sealed it as coming from a caller holding docker:host. A container is
   * pinned by the full id judged, so a rename before the engine call cannot swap it.
   */
  private async admit(job: JobMessage): Promise<{ refusal: string; status: number } | { job: JobMessage; named?: unknown }> {
    const refusal = this.hostAccessRefusal(job);
    if (refusal) return { refusal, status: 403 };
    const uses = job.caller_host === true ? undefined : nodeOperationUses(job.operation, job.params ?? {});
    if (!uses) return { job };
    const verdict = await this.deps.hostObjects.verdict(uses);
    if ('refusal' in verdict) return { refusal: verdict.refusal.details, status: verdict.refusal.status };
    if (verdict.containerId === undefined) return { job };
    return { job: { ...job, params: { ...job.params, id: verdict.containerId } }, named: job.params.id };
  }

  /** Runs a pinned job; its row names the container as the caller did. */
  private async runPinned({ job, named }: { job: JobMessage; named?: unknown }, slots: Semaphore, log: Logger): Promise<HostRow> {
    const row = await this.runWhenFree(job, slots, log);
    return named !== undefined && row.id === job.params.id ? { ...row, id: String(named) } : row;
  }

  private refusedRow(refusal: string, status: number): HostRow {
    return { hostname: this.deps.hostname, status: 'failed', changed: false, error: `host access refused: ${refusal}`, error_code: status };
  }

  /** Long-running jobs (contract `x-long-running`, or streams) queue for their own slots. */
  private slotsFor(job: JobMessage): Semaphore {
    const longRunning = job.stream === true || LONG_RUNNING.has(job.operation);
    return longRunning ? this.longRunningSlots : this.slots;
  }

  /**
   * Only this host's consumer on its own stream, delivering its own job subject, may hand it a job:
   * the broker does not check where a consumer delivers, so a misdirected consumer (made with a
   * login that may create consumers) must not be able to run another host's jobs here.
   */
  private isOwnDelivery(msg: JsMsg): boolean {
    const { hostname } = this.deps;
    if (msg.subject !== jobSubject(hostname)) return false;
    try {
      return msg.info.stream === jobsStreamOf(hostname) && msg.info.consumer === agentConsumerName(hostname);
    } catch {
      // No JetStream reply subject at all: not a delivery.
      return false;
    }
  }

  /**
   * Waits for an engine slot, but not past the deadline: a job still queued
   * behind slow engine calls when its deadline nears fails with that reason,
   * in time for its row to land, and never starts late.
   */
  private runWhenFree(job: JobMessage, slots: Semaphore, log: Logger): Promise<HostRow> {
    return slots.run(() => this.execute(job, log), job.deadline - QUEUE_GRACE_MS).catch(() => ({
      hostname: this.deps.hostname,
      status: 'failed' as const,
      changed: false,
      error: 'timeout: operation did not finish by the deadline (it waited for the engine behind other jobs and was not started)',
      error_code: 504,
    }));
  }

  /**
   * The job ran: its row must land even if the broker is restarting. Writing
   * the same row under the same key again is harmless, so retry for a while.
   * An unclaimed read writes its row only where there is none yet (`first`); false when one was there.
   */
  private async report(job: JobMessage, row: Uint8Array, log: Logger, mode: 'overwrite' | 'first'): Promise<boolean> {
    const key = resultKey(job.job_id, this.deps.hostname);
    const giveUpAt = Math.max(job.deadline, Date.now()) + REPORT_RETRY_MS;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.deps.results.put(key, row, mode === 'first' ? { previousSeq: 0 } : undefined);
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

  private async claim(job: JobMessage): Promise<'claimed' | 'taken' | 'retry'> {
    const running: HostRow = { hostname: this.deps.hostname, status: 'running', changed: false };
    try {
      // An atomic create: the write succeeds only if the key has no entry at all. (KV's create() would
      // read the existing entry back on failure, a read the agent's NATS permissions refuse.)
      await this.deps.results.put(resultKey(job.job_id, this.deps.hostname), JSON.stringify(running), { previousSeq: 0 });
      return 'claimed';
    } catch (err) {
      if (isClaimTaken(err)) return 'taken';
      this.deps.log.warn({ err, job_id: job.job_id }, 'claim failed; asking for redelivery');
      return 'retry';
    }
  }

  private async execute(job: JobMessage, log: Logger): Promise<HostRow> {
    const started = Date.now();
    const hostname = this.deps.hostname;
    const executor = this.deps.executors[job.operation] as Executor<typeof job.operation> | undefined;
    if (!executor) {
      return { hostname, status: 'failed', changed: false, error: `operation ${job.operation} is not supported by this agent`, error_code: 501 };
    }
    const channel = new JobChannel(this.deps.nc, job, hostname);
    const giveUpAt = job.deadline - AGENT_REPORT_GRACE_MS;
    const deadline = new JobDeadline(giveUpAt);
    // A stream ends normally a little before the deadline, or when its client leaves, so its row lands in time.
    const stop = job.stream ? new AbortController() : undefined;
    const stopTimer = stop ? setTimeout(() => stop.abort(), Math.max(0, job.deadline - Date.now() - STREAM_GRACE_MS)) : undefined;
    const unsubscribe = stop ? channel.onCancel(() => stop.abort()) : undefined;
    let streamSignal: AbortSignal | undefined;
    try {
      const outcome = await deadline.bound(() =>
        executor(job.params as never, {
          docker: this.deps.docker,
          deadline: giveUpAt,
          // Made only if the executor looks at it: most reads never do.
          get signal() {
            return stop ? (streamSignal ??= AbortSignal.any([deadline.signal, stop.signal])) : deadline.signal;
          },
          log,
          emit: (event, data) => channel.emit(event, data),
          secret: () => channel.secret(),
          maxOutputBytes: this.deps.maxOutputBytes,
          upload: () => channel.upload(),
          sendFile: (source, fileHeaders = {}) => channel.sendFile(source, fileHeaders, giveUpAt, deadline.signal),
        }),
      );
      return { hostname, status: 'ok', ...outcome, duration_ms: Date.now() - started };
    } catch (err) {
      const failure = deadline.expired ? { error: 'timeout: operation did not finish by the deadline', error_code: 504 } : describeEngineError(err);
      return { hostname, status: 'failed', changed: false, ...failure, duration_ms: Date.now() - started };
    } finally {
      clearTimeout(stopTimer);
      unsubscribe?.();
    }
  }
}

/** How long past the deadline an executed job's row is still retried. */
const REPORT_RETRY_MS = 60_000;

/** How often a pending agent looks for the consumer its acceptance creates. */
const CONSUMER_POLL_MS = 1_000;

/** How long a starting agent waits for its consumer to be free of a previous connection. */
const BIND_RETRY_MS = 15_000;


function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** How long before its deadline a job still waiting for an engine slot gives up. */
const QUEUE_GRACE_MS = 500;

/** How long before its deadline a stream is wound down. */
const STREAM_GRACE_MS = 750;

/**
 * The largest row written to the results bucket: NATS refuses messages over its max_payload
 * (1 MB by default), and a row that cannot be written leaves its caller with a timeout.
 */
const MAX_ROW_BYTES = 900 * 1024;

/** A final row and its JSON, encoded once for the size check, the announcement and the durable write. */
export interface EncodedRow {
  row: HostRow;
  json: Uint8Array;
}

/**
 * A row that will not fit a NATS message: its output is cut further (JSON escaping can make
 * capped output grow up to six times, e.g. NUL bytes), and a row that still does not fit becomes a
 * failed row saying how large it was. Output is already capped by the executors; this catches the rest.
 */
export function fitted(row: HostRow): EncodedRow {
  let current = encoded(row);
  for (let cuts = 0; cuts < 8 && current.json.length > MAX_ROW_BYTES; cuts++) {
    const shorter = withHalfTheOutput(current.row);
    if (!shorter) break;
    current = encoded(shorter);
  }
  if (current.json.length <= MAX_ROW_BYTES) return current;
  return encoded({
    hostname: row.hostname,
    status: 'failed',
    changed: row.changed,
    error: `the result (${current.json.length} bytes) is larger than a row may be (${MAX_ROW_BYTES} bytes); narrow the request (filters, tail, limit)`,
    error_code: 507,
    ...(row.duration_ms === undefined ? {} : { duration_ms: row.duration_ms }),
  });
}

function encoded(row: HostRow): EncodedRow {
  return { row, json: Buffer.from(JSON.stringify(row)) };
}

/** The row with its `stdout` and `stderr` cut to half their length, marked truncated; undefined when it has no output. */
function withHalfTheOutput(row: HostRow): HostRow | undefined {
  const output = (['stdout', 'stderr'] as const).filter((field) => typeof row[field] === 'string' && (row[field] as string).length > 0);
  if (output.length === 0) return undefined;
  const cut: HostRow = { ...row, truncated: true };
  for (const field of output) cut[field] = (row[field] as string).slice(0, Math.floor((row[field] as string).length / 2));
  return cut;
}

/**
 * Whether a job that runs at once (and so ends, row and all, by its deadline less the report grace)
 * is over before the broker, counting `ackWaitMs` from when it stored the job (epoch ms, its clock),
 * would deliver it again. An unknown ack wait (0) never is.
 */
export function endsBeforeRedelivery(deadline: number, storedAt: number, ackWaitMs: number): boolean {
  return ackWaitMs > 0 && deadline - AGENT_REPORT_GRACE_MS < storedAt + ackWaitMs;
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

/**
 * A read that is not a stream and sends no file: executing it again changes nothing on the engine
 * and repeats no chunk or byte to a client, so it runs without a claim. Decided from the contract,
 * not from the message.
 */
function isRepeatable(job: JobMessage): boolean {
  return !job.stream && READS.has(job.operation) && !DOWNLOADS.has(job.operation);
}

const READS = new Set<string>(OPERATIONS.filter((op) => op.nodeTargeted && !op.mutating).map((op) => op.name));
const LONG_RUNNING = new Set<string>(OPERATIONS.filter((op) => op.longRunning).map((op) => op.name));
const DOWNLOADS = new Set<string>(OPERATIONS.filter((op) => op.downloadMediaType).map((op) => op.name));

function parseJob(msg: JsMsg): JobMessage | undefined {
  try {
    const job = msg.json<JobMessage>();
    return typeof job.job_id === 'string' && typeof job.operation === 'string' && typeof job.deadline === 'number' ? job : undefined;
  } catch {
    return undefined;
  }
}
