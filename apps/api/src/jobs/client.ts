import type { KeyObject } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { jobTraits } from '@fleet/contracts/operations';
import {
  cancelSubject,
  type HostRow,
  type JobRecord,
  type Rollout,
  type RolloutControl,
  type RolloutControlReply,
} from '@fleet/contracts/protocol';
import type { TargetResolver } from '../targets/resolve';
import { JobCollector } from './collection';
import {
  describeError,
  DISPATCH_WINDOW,
  newJobRecord,
  publishToHosts,
  settleInWindow,
  unsealedPayload,
  type UnsealedPayload,
} from './dispatch';
import { JobStoreUnavailableError, UnsendableParamsError } from './job-errors';
import type { ResultFeed } from './feed';
import type { JobRequest, StagedJob, StartedJob } from './job-request';
import type { KeySlots } from './key-slots';
import type { JetStreamPublisher } from './publish';
import { answerRolloutControls, sendRolloutControl } from './rollout-control';
import type { SecretVault } from './secrets';
import type { JobStore, JobView } from './store';

export type { JobRequest, StagedJob, StartedJob } from './job-request';

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

/**
 * The job client: create the job, resolve its target to a fixed host set, store it, publish it to
 * each host (dispatch.ts), and collect one row per host by the deadline (collection.ts). It knows
 * nothing of HTTP: its failures are its own errors (TargetError, JobStoreUnavailableError,
 * UnsendableParamsError), which the HTTP layer answers with a status (http/error-answer.ts).
 */
export class JobClient {
  private readonly collector: JobCollector;

  constructor(private readonly deps: JobClientDeps) {
    this.collector = new JobCollector(deps);
  }

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
    const { store, vault, log } = this.deps;
    const slots = request.longRunning && request.keyId ? this.deps.longRunningSlots : undefined;
    const release = slots?.take(request.keyId as string);
    const record: JobRecord = { ...newJobRecord(request, hosts, Date.now()), deadline: new Date(deadline).toISOString(), rollout };
    try {
      unsealedPayload(record, request, this.deps.hostGrantKey);
      await store.save(record);
    } catch (err) {
      release?.();
      if (err instanceof UnsendableParamsError) throw err;
      log.error({ job_id: record.job_id, target: record.target, err }, 'job could not be stored');
      throw new JobStoreUnavailableError(`the job could not be stored, so it was not sent to any host: ${describeError(err)}`);
    }
    if (request.secret) vault.hold(record.job_id, hosts, request.secret, deadline);
    return {
      record,
      log: log.child({ job_id: record.job_id, target: record.target }),
      runOn: (subset, waveDeadline) => this.runWave(record, request, subset, waveDeadline),
      saveProgress: (progress, step) => store.saveProgress({ ...record, rollout: progress }, step),
      skip: async (rows) => {
        await settleInWindow(rows, DISPATCH_WINDOW, (row) => store.recordSkipped(record.job_id, row));
      },
      onControl: (take) => answerRolloutControls(this.deps.nc, record.job_id, take),
      finish: (rows) => {
        release?.();
        vault.release(record.job_id);
        this.deps.onSettled?.(record, rows);
      },
    };
  }

  /** Pause, resume or abort a rollout on the replica running it; undefined when none does. */
  controlRollout(jobId: string, control: RolloutControl): Promise<RolloutControlReply | undefined> {
    return sendRolloutControl(this.deps.nc, jobId, control);
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

  /** Long-poll of `GET /job/{job_id}` (JobCollector.waitFor). */
  waitFor(jobId: string, waitMs: number, restrict: (record: JobRecord) => JobRecord = (record) => record): Promise<JobView | undefined> {
    return this.collector.waitFor(jobId, waitMs, restrict);
  }

  private async startJob(request: JobRequest): Promise<StartedJob> {
    const { resolver, store, vault, log } = this.deps;
    const hosts = request.hosts
      ? request.hosts.flatMap((host) => resolver.resolve(host, request.scope))
      : resolver.resolve(request.target, request.scope);
    const now = Date.now();
    const record = newJobRecord(request, hosts, now);
    // Serialised before anything is stored or held, so parameters that cannot be sent leave nothing behind.
    const payload = unsealedPayload(record, request, this.deps.hostGrantKey);
    if (request.secret) vault.hold(record.job_id, hosts, request.secret, now + request.timeoutSeconds * 1000);
    // Listen before publishing, so no row or chunk can arrive unheard.
    const collection = this.collector.collect(record);
    if (request.onChunk) this.collector.relayChunks(record, request.onChunk, collection.rows);
    // A mutation is sent only once it is stored, so a job that cannot be stored runs nowhere. A plain read
    // (a stream or a download learns its hosts first) is stored and sent at once: should it run unrecorded, nothing changed.
    const sendNow = jobTraits(request.operation, { streaming: request.onChunk !== undefined }).plainRead;
    // The record goes out first: behind a large fan-out's dispatches on the same connection, its
    // acknowledgement would wait for all of them.
    const saved = store.save(record);
    const dispatched = sendNow ? this.publish(record, payload) : undefined;
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
    await (dispatched ?? this.publish(record, payload));
    // Debug: every call's info-level request line already carries its job_id, target and outcome (http/request-log.ts).
    log.debug({ job_id: record.job_id, target: record.target, operation: record.operation, hosts: hosts.length }, 'job dispatched');
    return { record, rows: collection.rows, cancel: () => this.deps.nc.publish(cancelSubject(record.job_id)) };
  }

  /** One wave: its own record view (its hosts, its start and deadline) is sealed, sent and collected like a job, but not counted as one. */
  private async runWave(record: JobRecord, request: JobRequest, hosts: string[], deadline: number): Promise<HostRow[]> {
    const wave: JobRecord = { ...record, hosts, created_at: new Date().toISOString(), deadline: new Date(deadline).toISOString() };
    const payload = unsealedPayload(wave, request, this.deps.hostGrantKey);
    const collection = this.collector.collectRows(wave, hosts);
    await publishToHosts(this.deps, wave, payload, hosts);
    return collection.rows;
  }

  private publish(record: JobRecord, payload: UnsealedPayload): Promise<void> {
    return publishToHosts(this.deps, record, payload, record.hosts);
  }
}
