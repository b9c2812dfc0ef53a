import { randomUUID, type KeyObject } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { jobMessageDigest, paramsDigest, signHostGrant, signJobSeal } from '@fleet/contracts/host-grant';
import { operationSpec, type NodeOperationName } from '@fleet/contracts/operations';
import {
  cancelSubject,
  isFinal,
  jobSubject,
  isStreamChunkEvent,
  rolloutControlSubject,
  parseStreamSubject,
  streamSubject,
  type HealthGate,
  type HostRow,
  type JobMessage,
  type JobRecord,
  type Rollout,
  type RolloutControl,
  type RolloutControlReply,
  type StreamChunk,
} from '@fleet/contracts/protocol';
import type { TargetResolver } from '../targets/resolve';
import type { ResultFeed } from './feed';
import { JobStoreUnavailableError, UnsendableParamsError } from './errors';
import type { KeySlots } from './key-slots';
import { publishUntil, withSeal, type JetStreamPublisher } from './publish';
import { byHostname, jobStatus, timeoutRow } from './rows';
import type { SecretVault } from './secrets';
import type { JobStore, JobView } from './store';
import { whenClockReaches } from './wall-clock-timer';

export interface JobRequest {
  /** The job's id when the caller needs it before the job starts (an upload is stored under it); else a new one. */
  jobId?: string;
  operation: NodeOperationName;
  target: string;
  params: Record<string, unknown>;
  /** The parameters reach the host (host-access.ts) and the caller may do that: the job carries a signed grant. */
  hostAccess?: boolean;
  /** The caller holds `docker:host`: the sealed message says so, and the agents let it use host-level objects. */
  callerHost?: boolean;
  /** The job may hold an engine call open until its deadline (contract `x-long-running`, or a stream). */
  longRunning?: boolean;
  timeoutSeconds: number;
  caller: string;
  /** The API key's id: long-running jobs are counted per key. */
  keyId?: string;
  /** The API key's target scope, if it has one. */
  scope?: string;
  /** A credential the agents fetch at run time (never stored, never logged). */
  secret?: string;
  /** Set for streaming calls: receives every chunk an agent emits, tagged with its host. */
  onChunk?: (hostname: string, chunk: StreamChunk) => void;
  /** Called once the job exists and before any host can act on it (a stream announces the job first). */
  onCreated?: (record: JobRecord) => void;
  /** The request body is a file of this many bytes in the upload store, under the job id. */
  upload?: { bytes: number };
  /** The job answers with a file its host sends on `fleet.download.<job_id>.<hostname>`. */
  download?: boolean;
  /** A rollout's health gate, checked by each host's agent after its step (README "Rollouts"). */
  health?: HealthGate;
}

export interface JobClientDeps {
  /** Core NATS: chunks of streaming jobs come in on it, cancels go out. */
  nc: Pick<NatsConnection, 'publish' | 'subscribe' | 'request'>;
  /** Dispatch messages go out through it, acknowledged by their stream. */
  js: JetStreamPublisher;
  store: JobStore;
  feed: ResultFeed;
  resolver: TargetResolver;
  vault: SecretVault;
  log: Logger;
  /** Seals every job message for each of its hosts and signs host-access grants (Ed25519). */
  hostGrantKey: KeyObject;
  /** Long-running jobs one API key may have open at once on this replica. */
  longRunningSlots?: KeySlots;
  /** Bytes a streaming caller may leave unread before its stream ends with `overflow`. */
  streamBufferBytes?: number;
  /** Called once per job with its final rows (metrics). */
  onSettled?: (record: JobRecord, rows: HostRow[]) => void;
}

/** A rollout's job (rollout.ts): stored with its plan, then sent to one subset of its hosts at a time. */
export interface StagedJob {
  record: JobRecord;
  /** Sends the job to `hosts` (some of the record's) with a deadline of their own, and settles with their rows by then. */
  runOn(hosts: string[], deadline: number): Promise<HostRow[]>;
  /** Stores the record again with the rollout's progress; `step` tells one save from the next. */
  saveProgress(rollout: Rollout, step: number): Promise<void>;
  /** Writes the rows of hosts never sent the job; a row already there stands. */
  skip(rows: HostRow[]): Promise<void>;
  /** Logs with the job's id and target. */
  log: Logger;
  /** Takes pause, resume and abort from any replica (controlRollout) until the returned function is called. */
  onControl(take: (control: RolloutControl) => RolloutControlReply): () => void;
  /** The rollout is over with these rows: its key's slot and its credential are let go, and it is counted once (metrics). */
  finish(rows: HostRow[]): void;
}

export interface StartedJob {
  record: JobRecord;
  /** Settles by the deadline with one row per expected host, sorted by hostname. */
  rows: Promise<HostRow[]>;
  /** Ends a streaming job early on every host (its client went away). */
  cancel(): void;
}

/**
 * The job client: create the job, resolve its target to a fixed host set,
 * store it, publish it to each host, and collect one row per host by the
 * deadline. It knows nothing of HTTP: its failures are its own errors
 * (TargetError, JobStoreUnavailableError, UnsendableParamsError), which the
 * HTTP layer answers with a status (http/errors.ts).
 */
export class JobClient {
  /**
   * Rows this gateway answered with, for a few seconds: an answer may come from a row the agent
   * announced before its durable write landed, and a `GET /job` through this gateway right after
   * must not show that host as still running.
   */
  private readonly answered = new Map<string, { rows: HostRow[]; until: number }>();

  constructor(private readonly deps: JobClientDeps) {}

  /** The hosts a job on `target` would get now (GET /target/{target}); nothing is stored or published. */
  previewTarget(target: string, scope?: string): string[] {
    return [...this.deps.resolver.preview(target, scope)].sort();
  }

  /** The hosts a job on `target` gets now, sorted; throws TargetError like a job's start. */
  resolveHosts(target: string, scope?: string): string[] {
    return [...this.deps.resolver.resolve(target, scope)].sort();
  }

  /**
   * Seam for rollouts (rollout.ts): the job on `hosts` is stored with its plan until `deadline` and sent nowhere yet.
   * A long-running one holds its key's slot until finish(), as start() does.
   */
  async stage(request: JobRequest, hosts: string[], rollout: Rollout, deadline: number): Promise<StagedJob> {
    const { store, vault } = this.deps;
    const slots = request.longRunning && request.keyId ? this.deps.longRunningSlots : undefined;
    const release = slots?.take(request.keyId as string);
    const now = Date.now();
    const record: JobRecord = {
      job_id: request.jobId ?? randomUUID(),
      operation: request.operation,
      target: request.target,
      hosts,
      caller: request.caller,
      created_at: new Date(now).toISOString(),
      deadline: new Date(deadline).toISOString(),
      rollout,
    };
    const finish = (rows: HostRow[]) => {
      release?.();
      vault.release(record.job_id);
      this.deps.onSettled?.(record, rows);
    };
    try {
      this.dispatchPayload(record, request);
      await store.save(record);
    } catch (err) {
      release?.();
      if (err instanceof UnsendableParamsError) throw err;
      this.deps.log.error({ job_id: record.job_id, target: record.target, err }, 'job could not be stored');
      throw new JobStoreUnavailableError(`the job could not be stored, so it was not sent to any host: ${describeError(err)}`);
    }
    if (request.secret) vault.hold(record.job_id, hosts, request.secret, deadline);
    return {
      record,
      log: this.deps.log.child({ job_id: record.job_id, target: record.target }),
      runOn: (subset, waveDeadline) => this.runOn(record, request, subset, waveDeadline),
      saveProgress: (progress, step) => store.saveProgress({ ...record, rollout: progress }, step),
      skip: async (rows) => {
        await settleInWindow(rows, DISPATCH_WINDOW, (row) => store.recordSkipped(record.job_id, row));
      },
      onControl: (take) => this.answerControls(record.job_id, take),
      finish,
    };
  }

  /**
   * Asks the replica running the rollout to pause, resume or abort it; undefined when no replica runs it
   * (it has ended, or its gateway is gone).
   */
  async controlRollout(jobId: string, control: RolloutControl): Promise<RolloutControlReply | undefined> {
    try {
      const reply = await this.deps.nc.request(rolloutControlSubject(jobId), JSON.stringify(control), { timeout: CONTROL_TIMEOUT_MS });
      return reply.json<RolloutControlReply>();
    } catch {
      return undefined;
    }
  }

  private answerControls(jobId: string, take: (control: RolloutControl) => RolloutControlReply): () => void {
    const sub = this.deps.nc.subscribe(rolloutControlSubject(jobId), {
      callback: (err, msg) => {
        if (err) return;
        const control = parseControl(msg.data);
        msg.respond(JSON.stringify(control ? take(control) : { refused: 'not a rollout control' }));
      },
    });
    return () => sub.unsubscribe();
  }

  /** One wave: its own record view (its hosts, its start and deadline) is sealed, sent and collected like a job. */
  private async runOn(record: JobRecord, request: JobRequest, hosts: string[], deadline: number): Promise<HostRow[]> {
    const wave: JobRecord = { ...record, hosts, created_at: new Date().toISOString(), deadline: new Date(deadline).toISOString() };
    const payload = this.dispatchPayload(wave, request);
    // A wave is not a job of its own: the rollout is counted once, by finish().
    const collection = this.collect(wave, false);
    await this.dispatch(wave, payload);
    return collection.rows;
  }

  get streamBufferBytes(): number | undefined {
    return this.deps.streamBufferBytes;
  }

  /** Starts the job; a long-running one holds one of its key's slots until its rows are settled. */
  async start(request: JobRequest): Promise<StartedJob> {
    const slots = request.longRunning && request.keyId ? this.deps.longRunningSlots : undefined;
    const release = slots?.take(request.keyId as string);
    try {
      const job = await this.startJob(request);
      if (release) job.rows.finally(release).catch(() => undefined);
      return job;
    } catch (err) {
      release?.();
      throw err;
    }
  }

  private async startJob(request: JobRequest): Promise<StartedJob> {
    const { resolver, store, vault, log } = this.deps;
    const hosts = resolver.resolve(request.target, request.scope);
    const now = Date.now();
    const record: JobRecord = {
      job_id: request.jobId ?? randomUUID(),
      operation: request.operation,
      target: request.target,
      hosts,
      caller: request.caller,
      created_at: new Date(now).toISOString(),
      deadline: new Date(now + request.timeoutSeconds * 1000).toISOString(),
    };
    // Serialised before anything is stored or held, so parameters that cannot be sent leave nothing behind.
    const payload = this.dispatchPayload(record, request);
    if (request.secret) vault.hold(record.job_id, hosts, request.secret, now + request.timeoutSeconds * 1000);
    // Listen before publishing, so no row or chunk can arrive unheard.
    const collection = this.collect(record);
    if (request.onChunk) this.relayChunks(record, request.onChunk, collection.rows);
    // A mutation is sent only once it is stored, so a job that cannot be stored runs nowhere. A read (not a
    // stream or a download, which learn their hosts first) is stored and sent at once: should it run unrecorded, nothing changed.
    const sendNow = !request.onChunk && !request.download && !operationSpec(request.operation).mutating;
    // The record goes out first: behind a large fan-out's dispatches on the same connection, its
    // acknowledgement would wait for all of them.
    const saved = store.save(record);
    const dispatched = sendNow ? this.dispatch(record, payload) : undefined;
    try {
      await saved;
    } catch (err) {
      await dispatched;
      collection.abandon();
      vault.release(record.job_id);
      log.error({ job_id: record.job_id, target: record.target, err }, 'job could not be stored');
      const sent = sendNow ? 'the read was sent to its hosts anyway, where running it changes nothing' : 'so it was not sent to any host';
      throw new JobStoreUnavailableError(`the job could not be stored, ${sent}: ${describeError(err)}`);
    }
    request.onCreated?.(record);
    await (dispatched ?? this.dispatch(record, payload));
    // Debug: every call's info-level request line already carries its job_id, target and outcome (http/observe.ts).
    log.debug({ job_id: record.job_id, target: record.target, operation: record.operation, hosts: hosts.length }, 'job dispatched');
    return { record, rows: collection.rows, cancel: () => this.deps.nc.publish(cancelSubject(record.job_id)) };
  }

  /**
   * Relays the chunks of the job's own hosts only, with a known event name and an object payload.
   * An agent may publish on `fleet.stream.<any job>.<its own hostname>`: a chunk from a host the
   * job does not expect, or one naming an event the gateway did not define, is dropped.
   */
  private relayChunks(record: JobRecord, onChunk: NonNullable<JobRequest['onChunk']>, done: Promise<unknown>): void {
    const hosts = new Set(record.hosts);
    const sub = this.deps.nc.subscribe(streamSubject(record.job_id, '*'), {
      callback: (err, msg) => {
        const sender = err ? undefined : parseStreamSubject(msg.subject);
        if (!sender || !hosts.has(sender.hostname)) return;
        const chunk = parseChunk(msg.data);
        // A chunk that is not what an agent sends is dropped; the row still reports the host's outcome.
        if (chunk) onChunk(sender.hostname, chunk);
      },
    });
    done.finally(() => sub.unsubscribe()).catch(() => undefined);
  }

  /**
   * Long-poll: resolves when every host is final or `waitMs` has passed, with the job as stored.
   * It listens before it reads, so a row landing in between still ends the wait; and a final row
   * heard on the feed wins over a read served by a replica that has not caught up with it yet
   * (stream replicas > 1 answer reads from any replica). `restrict` cuts the record to the hosts
   * the caller may read, or throws when it may read none.
   */
  async waitFor(jobId: string, waitMs: number, restrict: (record: JobRecord) => JobRecord = (record) => record): Promise<JobView | undefined> {
    const { store, feed } = this.deps;
    const stored = await store.getRecord(jobId);
    if (!stored) return undefined;
    // What the caller may see of it (or a refusal), decided before any row is read or waited for.
    const record = restrict(stored);
    const answered = (this.answered.get(jobId)?.rows ?? []).filter((row) => record.hosts.includes(row.hostname));
    const heard = new Map<string, HostRow>(answered.map((row) => [row.hostname, row]));
    let wake = () => undefined as void;
    const hear = (hostname: string, row: HostRow) => {
      if (!isFinal(row.status)) return;
      heard.set(hostname, row);
      wake();
    };
    const unwatch = feed.watch(jobId, hear);
    // After a reconnect, rows written meanwhile were not heard: read them back.
    const unresync = feed.onReconnect(() => {
      store.view(record).then((view) => view.results.forEach((row) => hear(row.hostname, row)), () => undefined);
    });
    try {
      const current = withHeard(await store.view(record), heard);
      if (waitMs <= 0 || current.results.every((row) => isFinal(row.status))) return current;
      const finalBefore = new Set(current.results.filter((row) => isFinal(row.status)).map((row) => row.hostname));
      await new Promise<void>((resolve) => {
        const cancelTimer = whenClockReaches(Math.min(Date.now() + waitMs, Date.parse(record.deadline)), resolve);
        wake = () => {
          if (!record.hosts.every((host) => finalBefore.has(host) || heard.has(host))) return;
          cancelTimer();
          resolve();
        };
        wake();
      });
      // Read again: a rollout stores its progress in the record as it goes (README "Rollouts").
      const latest = stored.rollout ? await store.getRecord(jobId) : undefined;
      return withHeard(await store.view(latest ? restrict(latest) : record), heard);
    } finally {
      unwatch();
      unresync();
    }
  }

  /**
   * The dispatch message as JSON, with the digest each host's seal signs. Parameters JSON cannot
   * hold (nested thousands deep) are the caller's error.
   */
  private dispatchPayload(record: JobRecord, request: JobRequest): UnsealedPayload {
    const message: JobMessage = {
      job_id: record.job_id,
      operation: record.operation,
      target: record.target,
      params: request.params,
      deadline: Date.parse(record.deadline),
      ...(request.secret ? { secret: true } : {}),
      ...(request.onChunk ? { stream: true } : {}),
      ...(request.hostAccess ? { host_grant: this.hostGrant(record, request) } : {}),
      ...(request.callerHost ? { caller_host: true as const } : {}),
      ...(request.upload ? { upload: request.upload } : {}),
      ...(request.download ? { download: true } : {}),
      ...(request.health ? { health: request.health } : {}),
    };
    try {
      return { json: JSON.stringify(message), digest: jobMessageDigest(message as unknown as Record<string, unknown>) };
    } catch (err) {
      throw new UnsendableParamsError(`the request's parameters cannot be forwarded to the agents: ${(err as Error).message}`);
    }
  }

  /** The grant lives as long as the job may run; it names the job, its hosts and a digest of its parameters. */
  private hostGrant(record: JobRecord, request: JobRequest): JobMessage['host_grant'] {
    const claims = { job_id: record.job_id, operation: record.operation, hosts: record.hosts, params_sha256: paramsDigest(request.params), expires_at: Date.parse(record.deadline) };
    return signHostGrant(claims, this.deps.hostGrantKey);
  }

  /**
   * Publishes the job to each host. A host the broker would not take the job for gets a failed row
   * at once (the others go ahead): its job is reported, never silently lost or left to time out.
   */
  private async dispatch(record: JobRecord, payload: UnsealedPayload): Promise<void> {
    const deadline = Date.parse(record.deadline);
    // Each host gets the message sealed for itself: a copy on another host's subject does not run there.
    const sealedFor = (host: string) => payloadEncoder.encode(withSeal(payload.json, signJobSeal(host, payload.digest, this.deps.hostGrantKey)));
    // msgID lets JetStream drop a duplicate publish of the same (job, host), so a retry is safe.
    const outcomes = await settleInWindow(record.hosts, DISPATCH_WINDOW, (host) => publishUntil(this.deps.js, jobSubject(host), sealedFor(host), `${record.job_id}.${host}`, deadline));
    const undelivered = record.hosts.flatMap((host, i) => {
      const outcome = outcomes[i];
      return outcome.status === 'rejected' ? [{ host, reason: describeError(outcome.reason) }] : [];
    });
    if (undelivered.length === 0) return;
    this.deps.log.warn({ job_id: record.job_id, target: record.target, undelivered: undelivered.length, reason: undelivered[0].reason }, 'job not delivered to some hosts');
    // A row that cannot be written now either is written at the deadline, as a timeout (settle).
    await Promise.all(undelivered.map(({ host, reason }) => this.deps.store.recordUndelivered(record, host, reason).catch(() => undefined)));
  }

  /** Collects one row per host until all are in or the deadline passes; `abandon` stops it with nothing written. */
  private collect(record: JobRecord, counted = true): { rows: Promise<HostRow[]>; abandon: () => void } {
    const expected = new Set(record.hosts);
    const rows = new Map<string, HostRow>();
    let stop = () => undefined as void;
    const collected = new Promise<HostRow[]>((resolve, reject) => {
      let finished = false;
      stop = () => {
        finished = true;
        cancelTimer();
        unwatch();
        unresync();
      };
      const finish = () => {
        if (finished) return;
        stop();
        this.settle(record, rows, counted).then(resolve, reject);
      };
      // The first final row heard for a host is its answer: the same row may come again (announced, then stored).
      const accept = (hostname: string, row: HostRow) => {
        if (finished || !expected.has(hostname) || rows.has(hostname) || !isFinal(row.status)) return;
        rows.set(hostname, row);
        if (rows.size === expected.size) finish();
      };
      const unwatch = this.deps.feed.watch(record.job_id, accept);
      // Rows that landed while this gateway was reconnecting were not heard: read them back rather than wait out the deadline.
      const unresync = this.deps.feed.onReconnect(() => {
        for (const host of record.hosts.filter((candidate) => !rows.has(candidate))) {
          this.deps.store.storedRow(record.job_id, host).then((row) => row && accept(host, { ...row, hostname: host }), () => undefined);
        }
      });
      const cancelTimer = whenClockReaches(Date.parse(record.deadline), finish);
    });
    return { rows: collected, abandon: () => stop() };
  }

  /** Fills every host still missing at the end: a row that landed unheard is read back, the rest time out. */
  private async settle(record: JobRecord, rows: Map<string, HostRow>, counted: boolean): Promise<HostRow[]> {
    const missing = record.hosts.filter((host) => !rows.has(host));
    await Promise.all(missing.map(async (host) => rows.set(host, await this.deadlineRow(record, host))));
    if (missing.length) this.deps.log.warn({ job_id: record.job_id, target: record.target, missing: missing.length }, 'hosts missed the deadline');
    const settled = [...rows.values()].sort(byHostname);
    this.remember(record.job_id, settled);
    if (counted) this.deps.onSettled?.(record, settled);
    return settled;
  }

  private remember(jobId: string, rows: HostRow[]): void {
    const now = Date.now();
    // Insertion order is expiry order: drop the expired ones from the front.
    for (const [id, entry] of this.answered) {
      if (entry.until > now) break;
      this.answered.delete(id);
    }
    this.answered.set(jobId, { rows, until: now + ANSWERED_KEPT_MS });
  }

  private async deadlineRow(record: JobRecord, host: string): Promise<HostRow> {
    try {
      const stored = await this.deps.store.storedRow(record.job_id, host);
      return stored && isFinal(stored.status) ? { ...stored, hostname: host } : await this.deps.store.recordTimeout(record, host);
    } catch (err) {
      // The broker cannot be reached to write the verdict down; every replica reads a missing row past the deadline as this timeout anyway.
      this.deps.log.error({ job_id: record.job_id, target: record.target, hostname: host, err }, 'deadline row not stored');
      return timeoutRow(record, host);
    }
  }
}

/**
 * Dispatches of one job awaiting JetStream's acknowledgement at once. The broker stores a
 * connection's publishes one after another: with all 5,000 of an `_all` sent at once, the last ones
 * waited longer than an attempt's timeout, and their retries (the first ones' too) piled more work
 * on a broker already behind. A window keeps every acknowledgement prompt and the pipe full.
 */
const DISPATCH_WINDOW = 256;

/** `Promise.allSettled(items.map(run))`, with at most `window` runs pending at any time; outcomes in item order. */
async function settleInWindow<T, R>(items: readonly T[], window: number, run: (item: T) => Promise<R>): Promise<PromiseSettledResult<R>[]> {
  const outcomes: PromiseSettledResult<R>[] = new Array(items.length);
  let next = 0;
  const lane = async () => {
    for (let i = next++; i < items.length; i = next++) {
      try {
        outcomes[i] = { status: 'fulfilled', value: await run(items[i]) };
      } catch (reason) {
        outcomes[i] = { status: 'rejected', reason };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(window, items.length) }, lane));
  return outcomes;
}

/** How long a pause, resume or abort waits for the replica running the rollout to answer. */
const CONTROL_TIMEOUT_MS = 5_000;

/** How long a settled job's rows are kept for `waitFor`: far longer than a durable write takes. */
const ANSWERED_KEPT_MS = 10_000;

function describeError(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The stored view, with final rows heard on the feed in place of rows a lagging replica still shows unfinished. */
function withHeard(view: JobView, heard: Map<string, HostRow>): JobView {
  const results = view.results.map((row) => {
    const final = isFinal(row.status) ? undefined : heard.get(row.hostname);
    return final ? { ...final, hostname: row.hostname } : row;
  });
  return { ...view, status: jobStatus(results), results };
}

const payloadEncoder = new TextEncoder();
const chunkDecoder = new TextDecoder();

/** A job message as JSON, before each host's seal is added, and the digest the seals sign. */
interface UnsealedPayload {
  json: string;
  digest: string;
}

/** Only gateways publish in the gateway's account; a malformed control is still refused, never taken. */
function parseControl(data: Uint8Array): RolloutControl | undefined {
  try {
    const { action, by } = JSON.parse(chunkDecoder.decode(data)) as Partial<RolloutControl>;
    if (action !== 'pause' && action !== 'resume' && action !== 'abort') return undefined;
    return typeof by === 'string' ? { action, by } : undefined;
  } catch {
    return undefined;
  }
}

function parseChunk(data: Uint8Array): StreamChunk | undefined {
  try {
    const chunk = JSON.parse(chunkDecoder.decode(data)) as Partial<StreamChunk>;
    const isObject = typeof chunk.data === 'object' && chunk.data !== null && !Array.isArray(chunk.data);
    return isStreamChunkEvent(chunk.event) && isObject ? { event: chunk.event, data: chunk.data } : undefined;
  } catch {
    return undefined;
  }
}
