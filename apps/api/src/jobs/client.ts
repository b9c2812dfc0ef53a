import { randomUUID } from 'node:crypto';
import { jetstream, type JetStreamClient } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import type { NodeOperationName } from '@fleet/contracts/operations';
import {
  cancelSubject,
  isFinal,
  jobSubject,
  STREAM_SUBJECT_PREFIX,
  type HostRow,
  type JobMessage,
  type JobRecord,
  type StreamChunk,
} from '@fleet/contracts/protocol';
import { badRequest } from '../errors';
import type { TargetResolver } from '../targets/resolve';
import type { ResultFeed } from './feed';
import { publishUntil } from './publish';
import { byHostname, jobStatus } from './rows';
import type { SecretVault } from './secrets';
import type { JobStore, JobView } from './store';

export interface JobRequest {
  operation: NodeOperationName;
  target: string;
  params: Record<string, unknown>;
  timeoutSeconds: number;
  caller: string;
  /** The API key's target scope, if it has one. */
  scope?: string;
  /** A credential the agents fetch at run time (never stored, never logged). */
  secret?: string;
  /** Set for streaming calls: receives every chunk an agent emits, tagged with its host. */
  onChunk?: (hostname: string, chunk: StreamChunk) => void;
  /** Called once the job exists and before any host can act on it (a stream announces the job first). */
  onCreated?: (record: JobRecord) => void;
}

/** The contract's bound on `?timeout=` (seconds). */
const MAX_TIMEOUT_SECONDS = 300;

export interface JobClientDeps {
  nc: NatsConnection;
  store: JobStore;
  feed: ResultFeed;
  resolver: TargetResolver;
  vault: SecretVault;
  log: Logger;
  /** Called once per job with its final rows (metrics). */
  onSettled?: (record: JobRecord, rows: HostRow[]) => void;
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
 * deadline. It knows nothing of HTTP.
 */
export class JobClient {
  private readonly js: JetStreamClient;

  constructor(private readonly deps: JobClientDeps) {
    this.js = jetstream(deps.nc);
  }

  async start(request: JobRequest): Promise<StartedJob> {
    const { resolver, store, vault, log } = this.deps;
    // The request validator lets `1e400` and `Infinity` through as numbers; a deadline must be a real time.
    if (!Number.isInteger(request.timeoutSeconds) || request.timeoutSeconds < 1 || request.timeoutSeconds > MAX_TIMEOUT_SECONDS) {
      throw badRequest(`query.timeout must be an integer from 1 to ${MAX_TIMEOUT_SECONDS} (seconds)`);
    }
    const hosts = resolver.resolve(request.target, request.scope);
    const now = Date.now();
    const record: JobRecord = {
      job_id: randomUUID(),
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
    const rows = this.collect(record);
    if (request.onChunk) this.relayChunks(record.job_id, request.onChunk, rows);
    await store.save(record);
    request.onCreated?.(record);
    await this.dispatch(record, payload);
    log.info({ job_id: record.job_id, target: record.target, operation: record.operation, hosts: hosts.length }, 'job dispatched');
    return { record, rows, cancel: () => this.deps.nc.publish(cancelSubject(record.job_id)) };
  }

  private relayChunks(jobId: string, onChunk: NonNullable<JobRequest['onChunk']>, done: Promise<unknown>): void {
    const sub = this.deps.nc.subscribe(`${STREAM_SUBJECT_PREFIX}.${jobId}.*`, {
      callback: (err, msg) => {
        if (err) return;
        const hostname = msg.subject.slice(STREAM_SUBJECT_PREFIX.length + jobId.length + 2);
        try {
          onChunk(hostname, msg.json<StreamChunk>());
        } catch {
          // A chunk that is not JSON is dropped; the row still reports the host's outcome.
        }
      },
    });
    done.finally(() => sub.unsubscribe()).catch(() => undefined);
  }

  /**
   * Long-poll: resolves when every host is final or `waitMs` has passed, with the job as stored.
   * It listens before it reads, so a row landing in between still ends the wait; and a final row
   * heard on the feed wins over a read served by a replica that has not caught up with it yet
   * (stream replicas > 1 answer reads from any replica).
   */
  async waitFor(jobId: string, waitMs: number): Promise<JobView | undefined> {
    const { store, feed } = this.deps;
    const record = await store.getRecord(jobId);
    if (!record) return undefined;
    const heard = new Map<string, HostRow>();
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
        const timer = setTimeout(resolve, Math.min(waitMs, Math.max(0, Date.parse(record.deadline) - Date.now())));
        wake = () => {
          if (!record.hosts.every((host) => finalBefore.has(host) || heard.has(host))) return;
          clearTimeout(timer);
          resolve();
        };
        wake();
      });
      return withHeard(await store.view(record), heard);
    } finally {
      unwatch();
      unresync();
    }
  }

  /** The dispatch message as JSON. Parameters JSON cannot hold (nested thousands deep) are the caller's error. */
  private dispatchPayload(record: JobRecord, request: JobRequest): string {
    const message: JobMessage = {
      job_id: record.job_id,
      operation: record.operation,
      target: record.target,
      params: request.params,
      deadline: Date.parse(record.deadline),
      ...(request.secret ? { secret: true } : {}),
      ...(request.onChunk ? { stream: true } : {}),
    };
    try {
      return JSON.stringify(message);
    } catch (err) {
      throw badRequest(`the request's parameters cannot be forwarded to the agents: ${(err as Error).message}`);
    }
  }

  private async dispatch(record: JobRecord, payload: string): Promise<void> {
    const deadline = Date.parse(record.deadline);
    // msgID lets JetStream drop a duplicate publish of the same (job, host), so a retry is safe.
    await Promise.all(record.hosts.map((host) => publishUntil(this.js, jobSubject(host), payload, `${record.job_id}.${host}`, deadline)));
  }

  private collect(record: JobRecord): Promise<HostRow[]> {
    const expected = new Set(record.hosts);
    const rows = new Map<string, HostRow>();
    return new Promise((resolve, reject) => {
      let finished = false;
      const finish = () => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        unwatch();
        unresync();
        this.settle(record, rows).then(resolve, reject);
      };
      const accept = (hostname: string, row: HostRow) => {
        if (finished || !expected.has(hostname) || !isFinal(row.status)) return;
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
      const timer = setTimeout(finish, Date.parse(record.deadline) - Date.now());
    });
  }

  /** Fills every host still missing at the end: a row that landed unheard is read back, the rest time out. */
  private async settle(record: JobRecord, rows: Map<string, HostRow>): Promise<HostRow[]> {
    const missing = record.hosts.filter((host) => !rows.has(host));
    await Promise.all(
      missing.map(async (host) => {
        const stored = await this.deps.store.storedRow(record.job_id, host);
        rows.set(host, stored && isFinal(stored.status) ? { ...stored, hostname: host } : await this.deps.store.recordTimeout(record, host));
      }),
    );
    if (missing.length) this.deps.log.warn({ job_id: record.job_id, target: record.target, missing: missing.length }, 'hosts missed the deadline');
    const settled = [...rows.values()].sort(byHostname);
    this.deps.onSettled?.(record, settled);
    return settled;
  }
}

/** The stored view, with final rows heard on the feed in place of rows a lagging replica still shows unfinished. */
function withHeard(view: JobView, heard: Map<string, HostRow>): JobView {
  const results = view.results.map((row) => {
    const final = isFinal(row.status) ? undefined : heard.get(row.hostname);
    return final ? { ...final, hostname: row.hostname } : row;
  });
  return { ...view, status: jobStatus(results), results };
}
