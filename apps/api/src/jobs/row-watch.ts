import { isFinal, type HostRow } from '@fleet/contracts/protocol';
import type { ResultFeed } from './feed';
import type { JobStore } from './store';
import { whenClockReaches } from './wall-clock-timer';

export interface RowWatchDeps {
  feed: Pick<ResultFeed, 'watch' | 'onReconnect'>;
  store: Pick<JobStore, 'storedRow'>;
}

/** The final rows of some of a job's hosts, as they come in. */
export interface RowWatch {
  /** The first final row heard for each watched host: the same row may come again (announced, then stored). */
  readonly rows: ReadonlyMap<string, HostRow>;
  /** Resolves once every watched host has a final row or the wall clock reaches `until`; the watch has then stopped. */
  readonly done: Promise<void>;
  /** Takes a final row learnt elsewhere (a stored view, rows this gateway answered with). */
  accept(hostname: string, row: HostRow): void;
  /** Stops listening; `done` then never resolves. */
  stop(): void;
}

/**
 * Watches the rows of `hosts` of one job until each has a final row or the wall clock reaches `until`
 * (epoch ms). It listens on the feed before anything is read or published, so no row arrives unheard,
 * and reads back the rows of hosts still missing after the feed reconnects, as rows that landed
 * meanwhile were not heard.
 */
export function watchRows(deps: RowWatchDeps, jobId: string, hosts: readonly string[], until: number): RowWatch {
  const watched = new Set(hosts);
  const rows = new Map<string, HostRow>();
  let stopped = false;
  let finish = () => undefined as void;
  const done = new Promise<void>((resolve) => {
    finish = () => {
      stop();
      resolve();
    };
  });
  const accept = (hostname: string, row: HostRow) => {
    if (stopped || !watched.has(hostname) || rows.has(hostname) || !isFinal(row.status)) return;
    rows.set(hostname, row);
    if (rows.size === watched.size) finish();
  };
  const stopListening = deps.feed.watch(jobId, accept);
  const stopReadingBackOnReconnect = deps.feed.onReconnect(() => {
    for (const host of hosts.filter((candidate) => !rows.has(candidate))) {
      deps.store.storedRow(jobId, host).then(
        (row) => row && accept(host, { ...row, hostname: host }),
        () => undefined,
      );
    }
  });
  const cancelTimer = whenClockReaches(until, () => finish());
  function stop(): void {
    if (stopped) return;
    stopped = true;
    cancelTimer();
    stopListening();
    stopReadingBackOnReconnect();
  }
  if (watched.size === 0) finish();
  return { rows, done, accept, stop };
}
