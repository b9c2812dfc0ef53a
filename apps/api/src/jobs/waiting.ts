import type { KeyObject } from 'node:crypto';
import type { JetStreamManager } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { parseTarget, TargetSyntaxError, type Target } from '@fleet/contracts/grammar';
import { WAITING_BUCKET, type JobRecord, type RolloutAuthority } from '@fleet/contracts/protocol';
import { followBucket } from '@fleet/runtime/nats';
import { readBucket } from '../nats/buckets';
import { KeyScope } from '../targets/scope';
import { TargetError, type AgentDirectory, type TargetResolver } from '../targets/resolve';
import { authorityOf, resumedRequest } from './client';
import type { JobCollector } from './collection';
import { DISPATCH_WINDOW, describeError, newJobRecord, publishToHosts, settleInWindow, unsealedPayload } from './dispatch';
import { JobStoreUnavailableError, WaitRefusedError } from './job-errors';
import type { JobRequest, StartedJob } from './job-request';
import type { JetStreamPublisher } from './publish';
import { replayOf } from './replay';
import { byHostname } from './rows';
import type { JobStore } from './store';
import { targetMatches, WaitingIndex, type WaitingJob } from './waiting-index';
import { unreachedRow, waitingRow } from './waiting-rows';

/** The roster as a waiting job needs it: who is live now, every host heard of, admin labels, and word of each change. */
export interface WaitingRoster extends AgentDirectory {
  onChange(listener: (hostname: string) => void): () => void;
}

export interface WaitingRoomDeps {
  /** The bucket WAITING_BUCKET: the waiting jobs and the per-host delivery markers. */
  kv: KV;
  /** Reads the bucket whole at start. */
  jsm: JetStreamManager;
  js: JetStreamPublisher;
  store: JobStore;
  roster: WaitingRoster;
  resolver: TargetResolver;
  /** Collects the row of each host reached, by its own deadline. */
  collector: Pick<JobCollector, 'collectRows'>;
  log: Logger;
  hostGrantKey: KeyObject;
  /** Whether the API key that started a job was revoked since: its job then reaches no further host. */
  isRevoked: (keyId: string) => boolean;
  /** How long job records are kept (FLEET_JOB_RETENTION_SECONDS): a job may not wait past its own record. */
  retentionSeconds: number;
}

/** What WAITING_BUCKET keeps of a waiting job under `job.<job_id>`; the rest is its record. */
interface WaitingEntry {
  target: string;
  scope?: string;
  /** Epoch ms. */
  until: number;
}

/** How often a replica looks for jobs whose wait is over. */
const END_SCAN_MS = 1_000;

/**
 * Jobs that wait for a host (README "Jobs that wait for a host"). A job is stored with `wait` and its starting key's
 * authority, delivered at once to the live hosts, and kept in WAITING_BUCKET; every replica follows that bucket into a
 * WaitingIndex and, on hearing from a host of a waiting job's target, delivers it there: the key checked again, the
 * host's scope judged again, one replica only (an atomic create of `sent.<job_id>.<hostname>`), the message sealed for
 * that host then. Once the wait is over, each host the job named and never reached gets a final `skipped` row.
 */
export class WaitingRoom {
  private readonly index = new WaitingIndex();
  /** Each job's record, read once: what a delivery replays and on whose authority. */
  private readonly records = new Map<string, Promise<JobRecord | undefined>>();
  /** Each job's additions to its record's hosts, one after the other, so this replica's writes do not race each other. */
  private readonly recordWrites = new Map<string, Promise<void>>();
  private readonly stops: Array<() => void> = [];

  constructor(private readonly deps: WaitingRoomDeps) {}

  /** Follows the bucket, reads it whole, then delivers to the live hosts what waited for them while no replica listened. */
  async start(nc: NatsConnection): Promise<void> {
    this.stops.push(followBucket(nc, WAITING_BUCKET, ({ key, value, deleted }) => !deleted && this.heardEntry(key, value)));
    for (const entry of await readBucket(nc, this.deps.jsm, WAITING_BUCKET)) this.heardEntry(entry.key, entry.value);
    this.stops.push(this.deps.roster.onChange((hostname) => this.heardHost(hostname)));
    const timer = setInterval(() => void this.endWaits(), END_SCAN_MS);
    this.stops.push(() => clearInterval(timer));
    for (const agent of this.deps.roster.list()) this.heardHost(agent.hostname);
  }

  stop(): void {
    this.stops.forEach((stop) => stop());
  }

  /**
   * Starts a job that also waits `waitSeconds` for its target's hosts that are not live now. It settles with the rows of
   * the hosts live now and a `waiting` row for each host the gateway knows of and waits for.
   */
  async open(request: JobRequest, waitSeconds: number): Promise<StartedJob> {
    const { store, kv, log } = this.deps;
    this.refuseUnkept(request, waitSeconds);
    const scope = KeyScope.of(request.scope, this.deps.roster);
    const target = this.parse(request.target);
    const live = this.liveHosts(request, target, scope);
    const waitingFor = this.knownNotLive(target, scope, live);
    const now = Date.now();
    const until = now + waitSeconds * 1000;
    const record: JobRecord = {
      ...newJobRecord(request, [...live, ...waitingFor], now),
      deadline: new Date(until + request.timeoutSeconds * 1000).toISOString(),
      authority: authorityOf(request),
      wait: { until: new Date(until).toISOString() },
    };
    const sentNow = deliveryRecord(record, live, now);
    // Serialised before anything is stored, so parameters that cannot be sent leave nothing behind.
    const payload = unsealedPayload(sentNow, request, this.deps.hostGrantKey);
    const entry: WaitingEntry = { target: request.target, ...(request.scope ? { scope: request.scope } : {}), until };
    try {
      await store.save(record);
      await kv.create(jobKey(record.job_id), JSON.stringify(entry));
    } catch (err) {
      log.error({ job_id: record.job_id, target: record.target, err }, 'waiting job could not be stored');
      throw new JobStoreUnavailableError(`the job could not be stored, so it was not sent to any host: ${describeError(err)}`);
    }
    this.records.set(record.job_id, Promise.resolve(record));
    this.index.add({ jobId: record.job_id, target, scope: request.scope, until });
    request.onCreated?.(record);
    const collection = this.deps.collector.collectRows(sentNow, live);
    await settleInWindow(live, DISPATCH_WINDOW, (host) => this.claimDelivery(record.job_id, host));
    await publishToHosts(this.deps, sentNow, payload, sentNow.hosts);
    const rows = collection.rows.then((hostRows) => [
      ...hostRows,
      ...waitingFor.map((host) => waitingRow(host, record.wait?.until as string)),
    ]);
    return { record, rows: rows.then((all) => all.sort(byHostname)), cancel: () => undefined };
  }

  /** What a waiting job cannot keep until a host appears is refused before anything is stored. */
  private refuseUnkept(request: JobRequest, waitSeconds: number): void {
    // Each delivery checks the key again: a job without the key's expiry could never be delivered.
    if (!request.authority) throw new Error('a waiting job needs the authority of the key that starts it');
    const replay = replayOf(request);
    if ('refused' in replay) throw new WaitRefusedError(`the job cannot wait for hosts: ${replay.refused}`);
    const kept = this.deps.retentionSeconds;
    if (waitSeconds + request.timeoutSeconds > kept) {
      throw new WaitRefusedError(
        `wait_for_host + timeout must be within the ${kept} s this gateway keeps job records (FLEET_JOB_RETENTION_SECONDS)`,
      );
    }
  }

  private parse(raw: string): Target {
    try {
      return parseTarget(raw);
    } catch (err) {
      if (err instanceof TargetSyntaxError) throw new TargetError('invalid', err.message);
      throw err;
    }
  }

  /** The hosts the target reaches now; none is no error when the key may wait for the target (its scope covers it). */
  private liveHosts(request: JobRequest, target: Target, scope: KeyScope): string[] {
    if (target.kind === 'any') throw new WaitRefusedError("'_any' runs on one live host now; name the host or its labels to wait for it");
    try {
      return this.deps.resolver.resolve(request.target, request.scope);
    } catch (err) {
      if (err instanceof TargetError && err.failure === 'unmatched' && scope.covers(target)) return [];
      throw err;
    }
  }

  /** Hosts the gateway knows of that the target and scope reach but that cannot run the job now (offline, drained). */
  private knownNotLive(target: Target, scope: KeyScope, live: string[]): string[] {
    if (target.kind === 'host') return live.length > 0 ? [] : [target.hostname];
    const reached = new Set(live);
    return this.deps.roster.hostnames().filter((hostname) => {
      const labels = this.deps.roster.labelsOf(hostname);
      return !reached.has(hostname) && labels !== undefined && targetMatches(target, hostname, labels) && scope.includesHost(hostname);
    });
  }

  /** A job or a delivery marker heard on the bucket (from this replica or another). */
  private heardEntry(key: string, value: Uint8Array): void {
    const sent = parseSentKey(key);
    if (sent) return this.index.markDelivered(sent.jobId, sent.hostname);
    const jobId = key.startsWith('job.') ? key.slice(4) : undefined;
    const entry = jobId ? parseEntry(value) : undefined;
    if (!jobId || !entry) return;
    try {
      this.index.add({ jobId, target: parseTarget(entry.target), scope: entry.scope, until: entry.until });
    } catch {
      // A target that no longer parses waits for nothing.
    }
  }

  /**
   * A host changed (a heartbeat, an enrolment, new labels, a drain): the waiting jobs it may be for are the index's
   * candidates only, and each is judged here in memory; only a delivery goes to the broker.
   */
  private heardHost(hostname: string): void {
    if (this.index.size === 0) return;
    const agent = this.deps.roster.get(hostname);
    if (!agent || agent.enrollment !== 'accepted') return;
    for (const job of this.index.candidates(hostname, agent.labels, Date.now())) {
      // As a job started now: drained hosts leave every group but can still be named.
      if (agent.drained && job.target.kind !== 'host') continue;
      if (!KeyScope.of(job.scope, this.deps.roster).includesHost(hostname)) continue;
      void this.deliver(job, hostname);
    }
  }

  private async deliver(job: WaitingJob, hostname: string): Promise<void> {
    const { log } = this.deps;
    // Marked first, so the heartbeats heard while this delivery runs do not start another.
    this.index.markDelivered(job.jobId, hostname);
    let claimed = false;
    try {
      const record = await this.recordOf(job.jobId);
      if (!record?.authority) return this.index.remove(job.jobId);
      const lost = lostAuthority(record.authority, this.deps.isRevoked);
      if (lost) {
        this.index.unmarkDelivered(job.jobId, hostname);
        return await this.endWait(job, `the job stopped waiting: ${lost}`);
      }
      claimed = await this.claimDelivery(job.jobId, hostname);
      if (!claimed) return;
      await this.addHost(job.jobId, hostname);
      const sent = deliveryRecord(record, [hostname], Date.now());
      const payload = unsealedPayload(sent, resumedRequest(record, record.authority), this.deps.hostGrantKey);
      this.deps.collector.collectRows(sent, sent.hosts).rows.catch(() => undefined);
      await publishToHosts(this.deps, sent, payload, sent.hosts);
      log.info({ job_id: job.jobId, target: record.target, hostname }, 'waiting job delivered');
    } catch (err) {
      log.warn(
        { job_id: job.jobId, hostname, err: describeError(err) },
        'waiting job not delivered; tried again when the host is next heard',
      );
      // Not claimed: the next heartbeat tries again. Claimed: publishToHosts wrote the host's row, or the deadline will.
      if (!claimed) this.index.unmarkDelivered(job.jobId, hostname);
    }
  }

  /** True for the one replica that creates the marker; false when it was there (delivered by another, or before). */
  private async claimDelivery(jobId: string, hostname: string): Promise<boolean> {
    try {
      await this.deps.kv.create(sentKey(jobId, hostname), '1');
      return true;
    } catch (err) {
      if (await this.deps.kv.get(sentKey(jobId, hostname)).then((entry) => entry?.operation === 'PUT')) return false;
      throw err;
    }
  }

  private addHost(jobId: string, hostname: string): Promise<void> {
    const previous = this.recordWrites.get(jobId) ?? Promise.resolve();
    const write = previous.catch(() => undefined).then(() => this.deps.store.addHost(jobId, hostname));
    this.recordWrites.set(jobId, write);
    return write;
  }

  private recordOf(jobId: string): Promise<JobRecord | undefined> {
    let record = this.records.get(jobId);
    if (!record) {
      record = this.deps.store.getRecord(jobId);
      this.records.set(jobId, record);
      record.catch(() => this.records.delete(jobId));
    }
    return record;
  }

  /** Every job whose wait is over: the hosts it named and never reached get their final row. */
  private async endWaits(): Promise<void> {
    for (const job of this.index.ended(Date.now())) {
      await this.endWait(job, `the host was not seen before the wait ended (${new Date(job.until).toISOString()}): nothing was sent to it`);
    }
  }

  /**
   * Ends the wait here: each host of the record not reached gets `why` as its final row, by an atomic create, so every
   * replica may write it and a host's real row stands. A host reached on another replica just before, whose marker has
   * not been heard yet, finds its row written and does not run the job (the agent's claim): it is reported unreached.
   */
  private async endWait(job: WaitingJob, why: string): Promise<void> {
    const record = await this.recordOf(job.jobId).catch(() => undefined);
    const unreached = (record?.hosts ?? []).filter((hostname) => !this.index.wasDelivered(job.jobId, hostname));
    this.index.remove(job.jobId);
    this.records.delete(job.jobId);
    this.recordWrites.delete(job.jobId);
    await settleInWindow(unreached, DISPATCH_WINDOW, (hostname) => this.deps.store.recordSkipped(job.jobId, unreachedRow(hostname, why)));
  }
}

/** The job as one delivery sends it: to `hosts`, with the job's timeout from `now`. */
function deliveryRecord(record: JobRecord, hosts: string[], now: number): JobRecord {
  const timeoutSeconds = record.authority?.timeout_seconds ?? 0;
  return { ...record, hosts, created_at: new Date(now).toISOString(), deadline: new Date(now + timeoutSeconds * 1000).toISOString() };
}

/** Why the key that started a waiting job may reach no further host, as a rollout checks between waves. */
function lostAuthority(authority: RolloutAuthority, isRevoked: (keyId: string) => boolean): string | undefined {
  if (authority.key_id && isRevoked(authority.key_id)) return 'the API key that started it was revoked';
  return authority.expires_at * 1000 <= Date.now() ? 'the API key that started it expired' : undefined;
}

function jobKey(jobId: string): string {
  return `job.${jobId}`;
}

function sentKey(jobId: string, hostname: string): string {
  return `sent.${jobId}.${hostname}`;
}

/** A job id is a UUID (no dot): what follows it is the hostname. */
function parseSentKey(key: string): { jobId: string; hostname: string } | undefined {
  if (!key.startsWith('sent.')) return undefined;
  const dot = key.indexOf('.', 5);
  return dot < 0 ? undefined : { jobId: key.slice(5, dot), hostname: key.slice(dot + 1) };
}

function parseEntry(value: Uint8Array): WaitingEntry | undefined {
  try {
    const entry = JSON.parse(new TextDecoder().decode(value)) as Partial<WaitingEntry>;
    return typeof entry.target === 'string' && typeof entry.until === 'number' ? (entry as WaitingEntry) : undefined;
  } catch {
    return undefined;
  }
}
