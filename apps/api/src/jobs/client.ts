import { randomUUID, type KeyObject } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { jobTraits } from '@fleet/contracts/operations';
import {
  cancelSubject,
  type HostRow,
  type JobRecord,
  type Rollout,
  type RolloutAuthority,
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
import { JobStoreUnavailableError } from './job-errors';
import type { ResultFeed } from './feed';
import type { JobRequest, StagedJob, StartedJob } from './job-request';
import type { KeySlots } from './key-slots';
import type { JetStreamPublisher } from './publish';
import { answerRolloutControls, sendRolloutControl } from './rollout-control';
import { LEASE_RENEW_MS, type RolloutLease, type RolloutLeases } from './rollout-lease';
import type { SecretVault } from './secrets';
import type { JobStore, JobView } from './store';
import { WaitRefusedError } from './job-errors';
import { TurnGate } from './turn-gate';
import type { WaitingRoom } from './waiting';

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
  /** Which replica runs each rollout (README "Rollouts"); without it, rollouts are neither leased nor taken over. */
  leases?: RolloutLeases;
  /** Jobs that wait for a host (README "Jobs that wait for a host"); without it, `wait_for_host` is refused. */
  waiting?: Pick<WaitingRoom, 'open'>;
  /** True once this replica has lost the broker for a while: a job is then refused at once (README "Broker restarts"). */
  brokerDown?: () => boolean;
}

/**
 * The job client: create the job, resolve its target to a fixed host set, store it, publish it to
 * each host (dispatch.ts), and collect one row per host by the deadline (collection.ts). It knows
 * nothing of HTTP: its failures are its own errors (TargetError, JobStoreUnavailableError,
 * UnsendableParamsError), which the HTTP layer answers with a status (http/error-answer.ts).
 */
export class JobClient {
  private readonly collector: JobCollector;
  private readonly dispatchTurn = new TurnGate();

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
   * Seam for rollouts (rollout.ts): the job on `hosts` is stored with its plan until `deadline` and sent nowhere yet,
   * its lease claimed first (so no replica can take over a stored rollout no one holds). A long-running one holds its
   * key's slot until finish(), as start() does.
   */
  async stage(request: JobRequest, hosts: string[], rollout: Rollout, deadline: number): Promise<StagedJob> {
    const { store, vault, log, leases } = this.deps;
    const slots = request.longRunning && request.keyId ? this.deps.longRunningSlots : undefined;
    this.refuseWhileBrokerDown();
    const jobId = request.jobId ?? randomUUID();
    const record: JobRecord = {
      ...newJobRecord({ ...request, jobId }, hosts, Date.now()),
      deadline: new Date(deadline).toISOString(),
      rollout,
      authority: authorityOf(request),
    };
    unsealedPayload(record, request, this.deps.hostGrantKey);
    const lease = await leases?.claim(jobId).catch((err: unknown) => {
      log.error({ job_id: jobId, target: record.target, err }, 'rollout lease not claimed');
      throw new JobStoreUnavailableError(`the rollout's lease could not be claimed, so it was not sent to any host: ${describeError(err)}`);
    });
    const release = slots?.take(request.keyId as string);
    try {
      await store.save(record);
    } catch (err) {
      release?.();
      await lease?.release();
      log.error({ job_id: record.job_id, target: record.target, err }, 'job could not be stored');
      throw new JobStoreUnavailableError(`the job could not be stored, so it was not sent to any host: ${describeError(err)}`);
    }
    if (request.secret) vault.hold(record.job_id, hosts, request.secret, deadline);
    request.onCreated?.(record);
    return this.staged(record, request, lease, () => {
      release?.();
      vault.release(record.job_id);
    });
  }

  /** Rollouts whose replica stopped renewing their lease (README "Rollouts"). */
  async abandonedRollouts(): Promise<Array<{ jobId: string; revision: number }>> {
    return (await this.deps.leases?.expired()) ?? [];
  }

  /**
   * Takes over a rollout whose lease expired at `revision`: its record as stored and the job to go on with, or
   * undefined when another replica took it first or it is no longer stored. The request is rebuilt from the record:
   * `params` is empty when its replay was refused (a credential is never stored), and then nothing may be sent again.
   */
  async takeOverRollout(jobId: string, revision: number): Promise<StagedJob | undefined> {
    const lease = await this.deps.leases?.takeOver(jobId, revision);
    if (!lease) return undefined;
    const record = await this.deps.store.getRecord(jobId).catch(() => null);
    // Unreadable now: left unrenewed, the lease is found expired again and the takeover tried again.
    if (record === null) return undefined;
    // A record never stored (its replica died between lease and record) or stored before rollouts kept their authority.
    if (!record?.rollout || !record.authority) {
      await lease.release();
      return undefined;
    }
    return this.staged(record, resumedRequest(record, record.authority), lease, () => undefined);
  }

  private staged(record: JobRecord, request: JobRequest, lease: RolloutLease | undefined, letGo: () => void): StagedJob {
    const { store, log } = this.deps;
    // Each replica's saves of one rollout are distinct messages (store.saveProgress).
    const run = randomUUID().slice(0, 8);
    const renewal = lease ? setInterval(() => void lease.renew(), LEASE_RENEW_MS) : undefined;
    return {
      record,
      log: log.child({ job_id: record.job_id, target: record.target }),
      runOn: (subset, waveDeadline, sent) => this.runWave(record, request, subset, waveDeadline, sent),
      collect: (subset, waveDeadline, resend) => this.collectWave(record, request, subset, waveDeadline, resend),
      leaseHeld: () => lease?.held() ?? true,
      saveProgress: (progress, step) => store.saveProgress({ ...record, rollout: progress }, `${run}.${step}`),
      skip: async (rows) => {
        await settleInWindow(rows, DISPATCH_WINDOW, (row) => store.recordSkipped(record.job_id, row));
      },
      onControl: (take) => answerRolloutControls(this.deps.nc, record.job_id, take),
      finish: (rows) => {
        clearInterval(renewal);
        // A lease lost to another replica is that replica's to release.
        if (lease?.held()) void lease.release();
        letGo();
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
    this.refuseWhileBrokerDown();
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

  /** Starts a job that also waits up to `waitSeconds` for the target's hosts not live now (README "Jobs that wait for a host"). */
  startWaiting(request: JobRequest, waitSeconds: number): Promise<StartedJob> {
    if (!this.deps.waiting) throw new WaitRefusedError('this gateway keeps no job for hosts not live now');
    return this.deps.waiting.open(request, waitSeconds);
  }

  /**
   * Without a broker a job could be neither stored nor sent: the client would hold it until the broker is back
   * or the call's deadline passes. Refused at once instead, the caller retries (503, retry-after) when it chooses.
   */
  private refuseWhileBrokerDown(): void {
    if (this.deps.brokerDown?.())
      throw new JobStoreUnavailableError('the broker is unreachable (restarting?): the job was not stored, and not sent to any host');
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
    // The jobs started in this turn of the event loop go out in one socket write.
    await this.dispatchTurn.next();
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
  private async runWave(
    record: JobRecord,
    request: JobRequest,
    hosts: string[],
    deadline: number,
    sent?: () => Promise<void>,
  ): Promise<HostRow[]> {
    const wave = waveRecord(record, hosts, deadline);
    const payload = unsealedPayload(wave, request, this.deps.hostGrantKey);
    const collection = this.collector.collectRows(wave, hosts);
    await publishToHosts(this.deps, wave, payload, hosts);
    await sent?.();
    return collection.rows;
  }

  /** A wave another replica started: the rows already stored are read, the rest collected (see StagedJob.collect). */
  private async collectWave(
    record: JobRecord,
    request: JobRequest,
    hosts: string[],
    deadline: number,
    resend: boolean,
  ): Promise<HostRow[]> {
    const wave = waveRecord(record, hosts, deadline);
    // Listen first, so a row stored between the read and the watch is heard.
    const collection = this.collector.collectRows(wave, hosts);
    const stored = await Promise.all(hosts.map((host) => this.deps.store.storedRow(record.job_id, host).catch(() => undefined)));
    for (const [i, row] of stored.entries()) if (row) collection.accept(hosts[i], { ...row, hostname: hosts[i] });
    const unanswered = hosts.filter((_host, i) => stored[i] === undefined);
    if (resend && unanswered.length > 0) {
      await publishToHosts(this.deps, wave, unsealedPayload(wave, request, this.deps.hostGrantKey), unanswered);
    }
    return collection.rows;
  }

  private publish(record: JobRecord, payload: UnsealedPayload): Promise<void> {
    return publishToHosts(this.deps, record, payload, record.hosts);
  }
}

/** A wave's own view of the record: its hosts, started now, with its own deadline. */
function waveRecord(record: JobRecord, hosts: string[], deadline: number): JobRecord {
  return { ...record, hosts, created_at: new Date().toISOString(), deadline: new Date(deadline).toISOString() };
}

/** What a replica taking the rollout over needs to check and send its waves; the credential is never part of it. */
export function authorityOf(request: JobRequest): RolloutAuthority {
  return {
    ...(request.keyId ? { key_id: request.keyId } : {}),
    ...(request.scope ? { scope: request.scope } : {}),
    expires_at: request.authority?.expiresAt ?? 0,
    permissions: request.authority?.permissions ?? [],
    host_access: request.hostAccess ?? false,
    caller_host: request.callerHost ?? false,
    long_running: request.longRunning ?? false,
    timeout_seconds: request.timeoutSeconds,
    ...(request.health ? { health: request.health } : {}),
  };
}

/** The rollout's request as its record keeps it: what the replica that started it would send. */
export function resumedRequest(record: JobRecord, authority: RolloutAuthority): JobRequest {
  const { replay } = record;
  return {
    jobId: record.job_id,
    operation: record.operation,
    target: record.target,
    params: replay && 'params' in replay ? replay.params : {},
    hostAccess: authority.host_access,
    callerHost: authority.caller_host,
    longRunning: authority.long_running,
    timeoutSeconds: authority.timeout_seconds,
    caller: record.caller,
    keyId: authority.key_id,
    scope: authority.scope,
    health: authority.health,
    authority: { permissions: authority.permissions, expiresAt: authority.expires_at },
  };
}
