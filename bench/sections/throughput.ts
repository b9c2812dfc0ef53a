import autocannon from 'autocannon';
import type { Progress } from '../lib/context';
import { ProcWatch, type WatchResult } from '../lib/proc';
import { round } from '../lib/stats';

export const P99_LIMIT_MS = 50;

export interface LoadStep {
  offered: number | 'open';
  connections: number;
  durationSeconds: number;
  achieved: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  ok: number;
  errors: number;
  non2xx: number;
  pass: boolean;
  watch: WatchResult;
  /** CPU microseconds per completed job, per watched process. */
  cpuUsPerJob: Record<string, number>;
}

export interface ThroughputTarget {
  name: string;
  path: string;
  steps: LoadStep[];
  open?: LoadStep;
  maxSustained: number;
  maxSustainedStep?: LoadStep;
}

export interface LoadSpec {
  url: string;
  adminKey: string;
  path: string;
  rate?: number;
  connections: number;
  durationSeconds: number;
  pids: Record<string, number>;
}

/** One autocannon run; `rate` undefined means as fast as the connections go. */
export async function runLoad(spec: LoadSpec): Promise<LoadStep> {
  const watch = new ProcWatch(spec.pids, 250);
  const result = await autocannon({
    url: `${spec.url}${spec.path}`,
    method: 'GET',
    headers: { authorization: `Bearer ${spec.adminKey}` },
    connections: spec.connections,
    duration: spec.durationSeconds,
    ...(spec.rate ? { overallRate: spec.rate } : {}),
    timeout: 10,
  });
  const watched = watch.stop();
  const ok = result['2xx'];
  const achieved = round(ok / result.duration, 1);
  const cpuUsPerJob: Record<string, number> = {};
  for (const [name, proc] of Object.entries(watched.processes)) cpuUsPerJob[name] = ok ? round((proc.cpuSeconds * 1e6) / ok, 0) : NaN;
  const errors = result.errors + result.timeouts;
  const pass = result.latency.p99 <= P99_LIMIT_MS && errors === 0 && result.non2xx === 0 && (!spec.rate || achieved >= spec.rate * 0.95);
  return {
    offered: spec.rate ?? 'open',
    connections: spec.connections,
    durationSeconds: spec.durationSeconds,
    achieved,
    p50: result.latency.p50,
    p90: result.latency.p90,
    p99: result.latency.p99,
    max: result.latency.max,
    ok,
    errors,
    non2xx: result.non2xx,
    pass,
    watch: watched,
    cpuUsPerJob,
  };
}

/**
 * Section 3. Offered rates step up until one misses twice in a row (p99 >
 * 50 ms, errors, or less than 95% of the offered rate completed); the highest
 * rate that passed is the sustained throughput. A bisection between the last pass and the
 * first miss refines it; an open run shows the ceiling.
 */
export async function runThroughput(
  base: Omit<LoadSpec, 'path' | 'rate' | 'connections' | 'durationSeconds'>,
  target: { name: string; path: string },
  opts: { quick: boolean },
  progress: Progress,
): Promise<ThroughputTarget> {
  const rates = opts.quick ? [100, 250, 500, 1000, 2000] : [100, 250, 500, 750, 1000, 1500, 2000, 2500, 3000, 4000];
  const durationSeconds = opts.quick ? 2 : 5;
  const steps: LoadStep[] = [];
  const connectionsFor = (rate: number) => Math.max(4, Math.min(32, Math.round(rate / 20)));
  const step = async (rate: number) => {
    const result = await runLoad({ ...base, path: target.path, rate, connections: connectionsFor(rate), durationSeconds });
    steps.push(result);
    progress.say(
      `  ${target.name} @ ${rate}/s: achieved ${result.achieved}/s p50 ${result.p50} p99 ${result.p99} ms, errors ` +
        `${result.errors + result.non2xx} → ${result.pass ? 'pass' : 'miss'}`,
    );
    return result;
  };
  // A short warm-up so the first step does not pay for JIT and connection set-up.
  await runLoad({ ...base, path: target.path, rate: 100, connections: 4, durationSeconds: 1 });
  let lastPass: number | undefined;
  let firstMiss: number | undefined;
  for (const rate of rates) {
    // On a shared box one burst of others' work can sink a step: a miss is repeated once, and both are recorded.
    const result = (await step(rate)).pass ? steps[steps.length - 1] : await step(rate);
    if (result.pass) lastPass = rate;
    else {
      firstMiss = rate;
      break;
    }
  }
  if (!opts.quick && lastPass !== undefined && firstMiss !== undefined && firstMiss - lastPass > 250) {
    const middle = Math.round((lastPass + firstMiss) / 2 / 50) * 50;
    if ((await step(middle)).pass) lastPass = middle;
  }
  const open = await runLoad({ ...base, path: target.path, connections: 32, durationSeconds });
  progress.say(`  ${target.name} open (32 connections): ${open.achieved}/s p50 ${open.p50} p99 ${open.p99} ms`);
  const best = steps.filter((s) => s.pass).sort((a, b) => b.achieved - a.achieved)[0];
  return { name: target.name, path: target.path, steps, open, maxSustained: best ? best.achieved : 0, maxSustainedStep: best };
}
