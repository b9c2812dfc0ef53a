import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import {
  isFinal,
  isStreamChunkEvent,
  parseStreamSubject,
  streamSubject,
  type HostRow,
  type JobRecord,
  type StreamChunk,
} from '@fleet/contracts/protocol';
import type { ResultFeed } from './feed';
import { byHostname, jobStatus, timeoutRow } from './rows';
import { watchRows } from './row-watch';
import { hostlessStatus } from './waiting-rows';
import type { JobStore, JobView } from './store';

export interface CollectionDeps {
  /** Core NATS: chunks of streaming jobs come in on it. */
  nc: Pick<NatsConnection, 'subscribe'>;
  store: JobStore;
  feed: ResultFeed;
  log: Logger;
  /** Called once per job with its final rows (metrics). */
  onSettled?: (record: JobRecord, rows: HostRow[]) => void;
}

/** How long a settled job's rows are kept for `waitFor`: far longer than a durable write takes. */
const ANSWERED_KEPT_MS = 10_000;

/**
 * Collects the rows of jobs: one row per host by the deadline for a job this gateway started, and
 * the long-poll of `GET /job` for any job. Both watch rows the same way (watchRows).
 */
export class JobCollector {
  /**
   * Rows this gateway answered with, for a few seconds: an answer may come from a row the agent
   * announced before its durable write landed, and a `GET /job` through this gateway right after
   * must not show that host as still running.
   */
  private readonly answered = new Map<string, { rows: HostRow[]; until: number }>();

  constructor(private readonly deps: CollectionDeps) {}

  /** Collects one row per host until all are in or the deadline passes; `abandon` stops it with nothing written. */
  collect(record: JobRecord): { rows: Promise<HostRow[]>; abandon: () => void } {
    const { rows, abandon } = this.collectRows(record, record.hosts);
    const settled = rows.then((hostRows) => {
      this.remember(record.job_id, hostRows);
      this.deps.onSettled?.(record, hostRows);
      return hostRows;
    });
    return { rows: settled, abandon };
  }

  /**
   * One row for each of `hosts` (all of a job's, or some), sorted by hostname, by the job's deadline:
   * a host still missing then gets its stored final row, or else the timeout.
   */
  collectRows(
    record: JobRecord,
    hosts: readonly string[],
  ): { rows: Promise<HostRow[]>; abandon: () => void; accept: (hostname: string, row: HostRow) => void } {
    const watch = watchRows(this.deps, record.job_id, hosts, Date.parse(record.deadline));
    const rows = watch.done.then(() => this.withDeadlineRows(record, hosts, watch.rows));
    // `accept` takes a final row read elsewhere (a rollout taken over reads back its running wave's stored rows).
    return { rows, abandon: () => watch.stop(), accept: (hostname, row) => watch.accept(hostname, row) };
  }

  /**
   * Relays the chunks of the job's own hosts only, with a known event name and an object payload.
   * An agent may publish on `fleet.stream.<any job>.<its own hostname>`: a chunk from a host the
   * job does not expect, or one naming an event the gateway did not define, is dropped.
   */
  relayChunks(record: JobRecord, onChunk: (hostname: string, chunk: StreamChunk) => void, done: Promise<unknown>): void {
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
  async waitFor(jobId: string, waitMs: number, restrict: (record: JobRecord) => JobRecord): Promise<JobView | undefined> {
    const { store } = this.deps;
    const stored = await store.getRecord(jobId);
    if (!stored) return undefined;
    // What the caller may see of it (or a refusal), decided before any row is read or waited for.
    const record = restrict(stored);
    const watch = watchRows(this.deps, jobId, record.hosts, Math.min(Date.now() + waitMs, Date.parse(record.deadline)));
    for (const row of this.answered.get(jobId)?.rows ?? []) watch.accept(row.hostname, row);
    try {
      const current = withFinalRowsHeard(await store.view(record), watch.rows);
      if (waitMs <= 0 || current.results.every((row) => isFinal(row.status))) return current;
      for (const row of current.results) watch.accept(row.hostname, row);
      await watch.done;
      // Read again: a rollout stores its progress in the record as it goes (README "Rollouts"), a waiting job the hosts it reached.
      const latest = stored.rollout || stored.wait ? await store.getRecord(jobId) : undefined;
      return withFinalRowsHeard(await store.view(latest ? restrict(latest) : record), watch.rows);
    } finally {
      watch.stop();
    }
  }

  /** Fills every host still missing at the end: a row that landed unheard is read back, the rest time out. */
  private async withDeadlineRows(record: JobRecord, hosts: readonly string[], heard: ReadonlyMap<string, HostRow>): Promise<HostRow[]> {
    const rows = new Map(heard);
    const missing = hosts.filter((host) => !rows.has(host));
    await Promise.all(missing.map(async (host) => rows.set(host, await this.deadlineRow(record, host))));
    if (missing.length > 0) {
      this.deps.log.warn({ job_id: record.job_id, target: record.target, missing: missing.length }, 'hosts missed the deadline');
    }
    return [...rows.values()].sort(byHostname);
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
      // The broker cannot be reached to write the verdict down; every replica reads a missing row past the deadline
      // as this timeout anyway.
      this.deps.log.error({ job_id: record.job_id, target: record.target, hostname: host, err }, 'deadline row not stored');
      return timeoutRow(record, host);
    }
  }
}

/** The stored view, with final rows heard on the feed in place of rows a lagging replica still shows unfinished. */
function withFinalRowsHeard(view: JobView, heard: ReadonlyMap<string, HostRow>): JobView {
  const results = view.results.map((row) => {
    const final = isFinal(row.status) ? undefined : heard.get(row.hostname);
    return final ? { ...final, hostname: row.hostname } : row;
  });
  return { ...view, status: hostlessStatus(view, results, Date.now()) ?? jobStatus(results), results };
}

const chunkDecoder = new TextDecoder();

function parseChunk(data: Uint8Array): StreamChunk | undefined {
  try {
    const chunk = JSON.parse(chunkDecoder.decode(data)) as Partial<StreamChunk>;
    const isObject = typeof chunk.data === 'object' && chunk.data !== null && !Array.isArray(chunk.data);
    return isStreamChunkEvent(chunk.event) && isObject ? { event: chunk.event, data: chunk.data } : undefined;
  } catch {
    return undefined;
  }
}
