import type { HostRow } from '@fleet/contracts/protocol';
import { boundedLoop, type Progress } from '../lib/context';
import { HttpClient } from '../lib/http';
import type { RowObserver } from '../lib/observer';
import { ProcWatch, type WatchResult } from '../lib/proc';
import { round, summarize, type Summary } from '../lib/stats';

export interface FanoutMeasurement {
  hosts: number;
  calls: number;
  /** Call sent → whole response (every host's row) received. */
  full: Summary;
  /** Call sent → the first host's final row seen on NATS. */
  firstRow: Summary;
  responseBytes: number;
  /** Rows that were not `ok` (timeouts: error_code 504), over all calls. */
  failedRows: number;
  timeoutRows: number;
  failedCalls: number;
  /** Calls that took over a second (a host's row arriving a pull-expiry late shows here). */
  callsOver1s: number;
  watch: WatchResult;
  /** CPU milliseconds per `_all` call, per watched process. */
  cpuMsPerCall: Record<string, number>;
}

export interface FanoutLoop {
  url: string;
  adminKey: string;
  observer: RowObserver;
  path: string;
  expectHosts: number;
  maxCalls: number;
  maxMs: number;
  minCalls: number;
  pids: Record<string, number>;
}

/** One `_all` call at a time (so the first row seen belongs to the call in flight), bounded in count and time. */
export async function measureFanout(loop: FanoutLoop, progress: Progress, label: string): Promise<FanoutMeasurement> {
  const http = new HttpClient(loop.url, { authorization: `Bearer ${loop.adminKey}` });
  const full: number[] = [];
  const first: number[] = [];
  let bytes = 0;
  let failedRows = 0;
  let timeoutRows = 0;
  let failedCalls = 0;
  // Warm-up call (not counted): the first call after a level change pays for caches.
  await http.call('GET', loop.path).catch(() => undefined);
  loop.observer.forgetAll();
  const watch = new ProcWatch(loop.pids);
  try {
    await boundedLoop(
      loop.maxCalls,
      loop.maxMs,
      async () => {
        const t0 = performance.now();
        let res: Awaited<ReturnType<HttpClient['call']>>;
        try {
          res = await http.call('GET', loop.path, undefined, 330_000);
        } catch (err) {
          failedCalls++;
          progress.say(`  ${label}: ${loop.path} failed: ${(err as Error).message}`);
          return;
        }
        const t1 = performance.now();
        if (res.status !== 200) {
          failedCalls++;
          if (failedCalls <= 2) progress.say(`  ${label}: ${loop.path} answered ${res.status}: ${res.body.slice(0, 200)}`);
          return;
        }
        const body = JSON.parse(res.body) as { job_id: string; results: HostRow[] };
        const firstAt = loop.observer.take(body.job_id);
        full.push(t1 - t0);
        if (firstAt !== undefined) first.push(firstAt - t0);
        bytes = res.bytes;
        if (body.results.length !== loop.expectHosts) {
          failedCalls++;
          progress.say(`  ${label}: expected ${loop.expectHosts} rows, got ${body.results.length}`);
        }
        for (const row of body.results) {
          if (row.status !== 'ok') failedRows++;
          if (row.error_code === 504) timeoutRows++;
        }
      },
      loop.minCalls,
    );
  } finally {
    http.close();
  }
  const watched = watch.stop();
  const calls = full.length + failedCalls;
  const cpuMsPerCall: Record<string, number> = {};
  for (const [name, proc] of Object.entries(watched.processes))
    cpuMsPerCall[name] = calls ? round((proc.cpuSeconds * 1000) / calls, 1) : NaN;
  const callsOver1s = full.filter((ms) => ms > 1000).length;
  const result = {
    hosts: loop.expectHosts,
    calls,
    full: summarize(full),
    firstRow: summarize(first),
    responseBytes: bytes,
    failedRows,
    timeoutRows,
    failedCalls,
    callsOver1s,
    watch: watched,
    cpuMsPerCall,
  };
  progress.say(
    `  ${label}: ${calls} calls, full p50 ${result.full.p50} p99 ${result.full.p99} ms, first row p50 ${result.firstRow.p50} p99 ` +
      `${result.firstRow.p99} ms, max ${result.full.max} ms, ${callsOver1s} calls > 1 s, ${bytes} B, failed rows ${failedRows} (timeouts ` +
      `${timeoutRows})`,
  );
  return result;
}
