import { batch, signal, type Signal } from '@preact/signals';
import { useRef, useState } from 'preact/hooks';
import { isFinal, jobStatus } from '@fleet/contracts/protocol';
import type { HostResult, Job, JobStatus } from '@fleet/sdk';
import { useBatched, useFeed } from '../feed';

/**
 * A job as the page holds it while its rows land: one signal per host row, so a row that changes
 * re-renders its own table row and nothing else (a 1,000-host matrix stays responsive), and a
 * version bumped per batch for the few things that count rows (progress, failed count).
 */
export interface LiveJob {
  job: Job;
  rows: Map<string, Signal<HostResult>>;
  status: Signal<JobStatus>;
  version: Signal<number>;
}

function liveJob(job: Job): LiveJob {
  const byHost = new Map(job.results.map((r) => [r.hostname, r]));
  const pending = (hostname: string): HostResult => ({ hostname, status: 'pending', changed: false });
  const rows = new Map(job.hosts.map((host) => [host, signal<HostResult>(byHost.get(host) ?? pending(host))]));
  return { job, rows, status: signal(job.status), version: signal(0) };
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

/** The job as its feed (GET /feed/job/{id}) tells it: the job, then each row as it lands, then the settled job. */
export function useJobFeed(jobId: string): { live?: LiveJob; error?: string } {
  const [live, setLive] = useState<LiveJob | undefined>();
  const current = useRef<LiveJob | undefined>(undefined);
  const addRows = useBatched<HostResult>((rows) => current.current && applyRows(current.current, rows));
  const feed = useFeed(
    `/feed/job/${jobId}`,
    (event, data) => {
      if (event === 'job') {
        current.current = liveJob(data as Job);
        setLive(current.current);
      } else if (event === 'row') addRows(data as HostResult);
      else if (event === 'end') {
        const settled = (data as { job?: Job }).job;
        // After the batch of rows still queued, so the settled job is what stays on screen.
        if (settled) setTimeout(() => current.current && applyRows(current.current, settled.results, settled.status), 60);
        return 'stop';
      }
    },
    [jobId],
  );
  return { live, error: feed.error };
}
