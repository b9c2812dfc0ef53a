import { batch, signal, type Signal } from '@preact/signals';
import { useRef, useState } from 'preact/hooks';
import { isFinal, jobStatus } from '@fleet/contracts/protocol';
import type { HostResult, Job, JobStatus } from '@fleet/sdk';
import { call } from '../api';
import { useBatched, useFeed } from '../feed';

/**
 * A job as the page holds it while its rows land: one signal per host row, so a row that changes
 * re-renders its own table row and nothing else (a 1,000-host matrix stays responsive), and a
 * version bumped per batch for the few things that count rows (progress, failed count). `record` is the job as
 * last read whole (its rollout's waves, its reruns): replaced when the feed says the rollout moved, and at the end.
 */
export interface LiveJob {
  job: Job;
  rows: Map<string, Signal<HostResult>>;
  status: Signal<JobStatus>;
  version: Signal<number>;
  record: Signal<Job>;
}

function liveJob(job: Job): LiveJob {
  const byHost = new Map(job.results.map((r) => [r.hostname, r]));
  const pending = (hostname: string): HostResult => ({ hostname, status: 'pending', changed: false });
  const rows = new Map(job.hosts.map((host) => [host, signal<HostResult>(byHost.get(host) ?? pending(host))]));
  return { job, rows, status: signal(job.status), version: signal(0), record: signal(job) };
}

export function rowsOf(live: LiveJob): HostResult[] {
  return [...live.rows.values()].map((row) => row.peek());
}

/** Reads the job's version: a component calling this re-renders per batch of rows. */
export function followRows(live: LiveJob): HostResult[] {
  void live.version.value;
  return rowsOf(live);
}

export function failedRows(rows: HostResult[]): HostResult[] {
  return rows.filter((r) => r.status === 'failed');
}

export function finishedRows(rows: HostResult[]): HostResult[] {
  return rows.filter((r) => isFinal(r.status));
}

/** Puts rows in; the job's status follows its rows (the gateway's rule) until the gateway's settled job says it last. */
function applyRows(live: LiveJob, rows: HostResult[], settledStatus?: JobStatus): void {
  batch(() => {
    for (const row of rows) {
      const slot = live.rows.get(row.hostname);
      if (slot) slot.value = row;
    }
    live.status.value = settledStatus ?? jobStatus(rowsOf(live));
    live.version.value++;
  });
}

function settle(live: LiveJob, settled: Job): void {
  applyRows(live, settled.results, settled.status);
  live.record.value = { ...live.record.peek(), ...settled };
}

/**
 * A `rollout` event says the plan moved (a wave started or ended, a hold, a stop); the waves it moved to are read
 * from the job record, so the page shows what GET /job/{id} shows, never a state pieced together from events.
 */
function useRolloutReader(jobId: string, current: { current?: LiveJob }): () => void {
  const reread = useBatched<unknown>(() => {
    void call<Job>('GET', `/job/${jobId}`).then(
      (job) => current.current && (current.current.record.value = job),
      () => undefined,
    );
  });
  return () => reread(undefined);
}

/** The job as its feed (GET /feed/job/{id}) tells it: the job, then each row as it lands, then the settled job. */
export function useJobFeed(jobId: string): { live?: LiveJob; error?: string } {
  const [live, setLive] = useState<LiveJob | undefined>();
  const current = useRef<LiveJob | undefined>(undefined);
  const addRows = useBatched<HostResult>((rows) => current.current && applyRows(current.current, rows));
  const rolloutMoved = useRolloutReader(jobId, current);
  const feed = useFeed(
    `/feed/job/${jobId}`,
    (event, data) => {
      if (event === 'job') {
        current.current = liveJob(data as Job);
        setLive(current.current);
      } else if (event === 'row') addRows(data as HostResult);
      else if (event === 'rollout') rolloutMoved();
      else if (event === 'end') {
        const settled = (data as { job?: Job }).job;
        // After the batch of rows still queued, so the settled job is what stays on screen.
        if (settled) setTimeout(() => current.current && settle(current.current, settled), 60);
        return 'stop';
      }
    },
    [jobId],
  );
  return { live, error: feed.error };
}
