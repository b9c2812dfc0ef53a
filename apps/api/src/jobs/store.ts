import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import {
  JOB_RECORDS_STREAM,
  jobRecordSubject,
  kvStreamName,
  kvSubject,
  RESULTS_BUCKET,
  resultKey,
  type HostRow,
  type JobRecord,
  type JobStatus,
} from '@fleet/contracts/protocol';
import { scanNewestFirst } from '../nats/scan';
import { publishUntil } from './publish';
import { byHostname, effectiveRow, jobStatus, timeoutRow, undeliveredRow } from './rows';
import { hostlessStatus } from './waiting-rows';

export interface JobView extends JobRecord {
  status: JobStatus;
  results: HostRow[];
}

export interface JobFilter {
  status?: JobStatus;
  operation?: string;
  target?: string;
  caller?: string;
  /** The record cut to what the caller may read, or undefined to leave the job out (see JobReadAccess). */
  readable?: (record: JobRecord) => JobRecord | undefined;
}

/**
 * Job records live in a JetStream stream (one message per job, file storage,
 * retention by age); per-host rows live in the results bucket. Any gateway
 * replica, or a restarted one, reads the same thing.
 */
export class JobStore {
  constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly results: KV,
  ) {}

  async save(record: JobRecord): Promise<void> {
    await publishUntil(this.js, jobRecordSubject(record.job_id), JSON.stringify(record), record.job_id, Date.parse(record.deadline));
  }

  /**
   * Adds `rerunId` to the original's `reruns`. The record is written again only over the version
   * read (expected last sequence), so two reruns linking at once both land.
   */
  async linkRerun(jobId: string, rerunId: string): Promise<void> {
    for (let attempt = 0; attempt < LINK_ATTEMPTS; attempt++) {
      const msg = await this.jsm.streams.getMessage(JOB_RECORDS_STREAM, { last_by_subj: jobRecordSubject(jobId) }).catch(() => null);
      if (!msg) throw new Error(`job ${jobId} is no longer stored`);
      const record = msg.json<JobRecord>();
      const linked: JobRecord = { ...record, reruns: [...(record.reruns ?? []), rerunId] };
      const options = { msgID: `${jobId}.rerun.${rerunId}`, expect: { lastSubjectSequence: msg.seq } };
      const written = await this.js.publish(jobRecordSubject(jobId), JSON.stringify(linked), options).then(
        () => true,
        () => false,
      );
      if (written) return;
    }
    throw new Error(`job ${jobId} kept changing while its rerun was linked`);
  }

  /**
   * Adds a host a waiting job reached (README "Jobs that wait for a host") to its `hosts`, written over the version read
   * (expected last sequence) like linkRerun, so two hosts reached at once through two replicas both land.
   */
  async addHost(jobId: string, hostname: string): Promise<void> {
    for (let attempt = 0; attempt < LINK_ATTEMPTS; attempt++) {
      const msg = await this.jsm.streams.getMessage(JOB_RECORDS_STREAM, { last_by_subj: jobRecordSubject(jobId) }).catch(() => null);
      if (!msg) throw new Error(`job ${jobId} is no longer stored`);
      const record = msg.json<JobRecord>();
      if (record.hosts.includes(hostname)) return;
      const grown: JobRecord = { ...record, hosts: [...record.hosts, hostname] };
      const options = { msgID: `${jobId}.host.${hostname}`, expect: { lastSubjectSequence: msg.seq } };
      const written = await this.js.publish(jobRecordSubject(jobId), JSON.stringify(grown), options).then(
        () => true,
        () => false,
      );
      if (written) return;
    }
    throw new Error(`job ${jobId} kept changing while a host it reached was added`);
  }

  /**
   * A rollout's record stored again with its progress: the stream keeps the last one per job; `step`
   * makes each save a new message (unique per replica running it, so a taker's saves are no duplicates of
   * its predecessor's). The `reruns` linked meanwhile are kept.
   */
  async saveProgress(record: JobRecord, step: string): Promise<void> {
    const reruns = (await this.getRecord(record.job_id))?.reruns;
    const saved: JobRecord = reruns ? { ...record, reruns } : record;
    await publishUntil(
      this.js,
      jobRecordSubject(record.job_id),
      JSON.stringify(saved),
      `${record.job_id}.${step}`,
      Date.parse(record.deadline),
    );
  }

  async getRecord(jobId: string): Promise<JobRecord | undefined> {
    const msg = await this.jsm.streams.getMessage(JOB_RECORDS_STREAM, { last_by_subj: jobRecordSubject(jobId) }).catch(() => null);
    return msg ? msg.json<JobRecord>() : undefined;
  }

  async get(jobId: string): Promise<JobView | undefined> {
    const record = await this.getRecord(jobId);
    return record ? this.view(record) : undefined;
  }

  async view(record: JobRecord): Promise<JobView> {
    const now = Date.now();
    const rows = await Promise.all(
      record.hosts.map(async (host) => effectiveRow(record, host, await this.storedRow(record.job_id, host), now)),
    );
    rows.sort(byHostname);
    return { ...record, status: hostlessStatus(record, rows, now) ?? jobStatus(rows), results: rows };
  }

  /**
   * Read from the results stream's leader. A KV get is a direct get, which any replica may serve
   * before it has caught up (replicas > 1): a job finished through one gateway would still read as
   * running through another.
   */
  async storedRow(jobId: string, hostname: string): Promise<HostRow | undefined> {
    const msg = await this.jsm.streams.getMessage(kvStreamName(RESULTS_BUCKET), {
      last_by_subj: kvSubject(RESULTS_BUCKET, resultKey(jobId, hostname)),
    });
    const operation = msg?.header?.get('KV-Operation');
    return msg && operation !== 'DEL' && operation !== 'PURGE' ? msg.json<HostRow>() : undefined;
  }

  /**
   * Writes the deadline's verdict for a host that has not finished. A host
   * that never claimed the job gets the row by an atomic create, which also
   * stops a late agent from starting it; a host still running is marked by a
   * compare-and-set, so a result that lands meanwhile is kept.
   */
  async recordTimeout(record: JobRecord, hostname: string): Promise<HostRow> {
    const key = resultKey(record.job_id, hostname);
    const row = timeoutRow(record, hostname);
    try {
      await this.results.create(key, JSON.stringify(row));
      return row;
    } catch {
      const entry = await this.results.get(key);
      const stored = entry?.operation === 'PUT' ? entry.json<HostRow>() : undefined;
      const effective = effectiveRow(record, hostname, stored, Date.now());
      if (entry && stored && effective.error_code === 504) {
        await this.results.update(key, JSON.stringify(row), entry.revision).catch(() => undefined);
      }
      return effective;
    }
  }

  /**
   * Records that a host never got its job. By an atomic create, like a timeout: should the job
   * have reached the stream after all, the agent finds its claim taken and does not run it; should
   * the agent have claimed it already, its row stands.
   */
  async recordUndelivered(record: JobRecord, hostname: string, reason: string): Promise<void> {
    await this.results.create(resultKey(record.job_id, hostname), JSON.stringify(undeliveredRow(hostname, reason)));
  }

  /** The row of a host a rollout never sent the job to. By an atomic create, so a row already written stands. */
  async recordSkipped(jobId: string, row: HostRow): Promise<void> {
    await this.results.create(resultKey(jobId, row.hostname), JSON.stringify(row)).catch(() => undefined);
  }

  /** Newest first; see scanNewestFirst for the cursor. */
  async list(filter: JobFilter, limit: number, cursor?: number): Promise<{ jobs: JobView[]; next_cursor?: string }> {
    const views = new Map<string, JobView>();
    const page = await scanNewestFirst<JobRecord>(this.jsm, JOB_RECORDS_STREAM, {
      limit,
      cursor,
      accept: async (stored) => {
        const record = matchesRecord(stored, filter) ? (filter.readable ?? ((all) => all))(stored) : undefined;
        if (!record) return false;
        // The status is the one of the rows shown: rows of hosts the caller may not see do not colour it.
        const view = await this.view(record);
        views.set(record.job_id, view);
        return !filter.status || view.status === filter.status;
      },
    });
    return {
      jobs: page.items.map((record) => views.get(record.job_id) as JobView),
      ...(page.next_cursor ? { next_cursor: page.next_cursor } : {}),
    };
  }
}

/** Writes of one record racing to link reruns: each lost race reads the record again. */
const LINK_ATTEMPTS = 5;

function matchesRecord(record: JobRecord, filter: JobFilter): boolean {
  return (
    (!filter.operation || record.operation === filter.operation) &&
    (!filter.target || record.target === filter.target) &&
    (!filter.caller || record.caller === filter.caller)
  );
}
