import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { acceptAgents, freePort, hostGrantKeyFiles, listAgents } from '@fleet/deploy';
import { SwarmProcess } from '../harness/swarm-client';
import { swarmHostname, swarmLabels } from '../harness/swarm-protocol';
import { boundedLoop, sleep, type Progress } from '../lib/context';
import { startScaleFleet, type ScaleFleet } from '../lib/fleets';
import { HttpClient } from '../lib/http';
import { RowObserver } from '../lib/observer';
import { fetchGoProfile, type FunctionTime } from '../lib/pprof';
import { mib, openFiles, ProcWatch, sampleProc, type WatchResult } from '../lib/proc';
import { probeEnv, probeMemory } from '../lib/probe';
import { logLogSlope, round, summarize, type Summary } from '../lib/stats';
import { measureFanout, type FanoutLoop, type FanoutMeasurement } from './fanout';

/** SCALE HARNESS: agents are real agent code in swarm processes against a simulated engine (bench/harness). */
export interface ScaleLevel {
  agents: number;
  /** Agents the swarm failed to start at this level (0 when the level was reached). */
  startFailures: number;
  startSeconds: number;
  /** Of startSeconds: accepting this level's new agents (POST /agent/{hostname}/accept, 20 at a time). */
  acceptSeconds?: number;
  swarmProcesses: number;
  fanout: FanoutMeasurement;
  anyPing: Summary;
  idle: WatchResult;
  gatewayIdleRssMiB: number;
  /** Gateway V8 heap in use after a full GC, idle at this level. */
  gatewayHeapMiB: number;
  /** (gateway heap after GC at this level − with no agents) / agents. */
  gatewayKiBPerAgent: number;
  inflight: InflightMeasurement;
  swarmRssMiB: number;
  natsOpenFiles: number;
  natsProfile?: { seconds: number; calls: number; top: FunctionTime[] };
}

export interface InflightMeasurement {
  jobs: number;
  accepted: number;
  /** Gateway heap after a full GC before the jobs, and with all of them in flight. */
  heapBeforeMiB: number;
  heapHeldMiB: number;
  rssBeforeMiB: number;
  rssHeldMiB: number;
  kibPerJob: number;
  completed: number;
  drainMs: number;
}

/** The levels of the dispatch cost curve (README issue 21's targets): from 10 to 10,000 agents. */
export const DISPATCH_CURVE_LEVELS = [10, 100, 1000, 2500, 5000, 10_000];

/** FLEET_DISPATCH_RETENTION: `workqueue` (the dispatch now), `limits` (the one before, measured in the same run). */
export type DispatchRetentionName = 'workqueue' | 'limits';

/** One level of the dispatch cost curve: the `_all` fan-out's latency and the broker's and gateway's CPU per host. */
export interface DispatchPoint {
  agents: number;
  calls: number;
  failedCalls: number;
  p50Ms: number;
  p99Ms: number;
  /** The broker's CPU per host per call, less what it spends idle at this level (heartbeats) over the call's wall time. */
  natsCpuUsPerHost: number;
  /** The same with the idle (heartbeat) load left in: grows with a call's wall time, not only with its work. */
  natsRawCpuUsPerHost: number;
  gatewayCpuUsPerHost: number;
}

export interface DispatchCurve {
  retention: DispatchRetentionName;
  points: DispatchPoint[];
  stoppedAt?: string;
}

export interface ScaleResult {
  harness: string;
  heartbeatMs: number;
  containersPerHost: number;
  gatewayBaselineRssMiB: number;
  gatewayBaselineHeapMiB: number;
  levels: ScaleLevel[];
  stoppedAt?: string;
  analysis: ScaleAnalysis;
  /** What the gateway logged at warn level or above during the scale run, and whether it was still alive at the end. */
  gatewayLog?: GatewayLogSummary;
  /** The `_all` cost curve with the dispatch now and the one before, each on a fleet of its own in the same run. */
  dispatch?: { after: DispatchCurve; before: DispatchCurve };
}

export interface GatewayLogSummary {
  aliveAtEnd: boolean;
  warnings: number;
  errors: number;
  byMessage: Record<string, number>;
  /** The last lines at warn or above, and any line that is not JSON (a crash writes its stack to the same log). */
  tail: string[];
}

/** Reads a service log written by deploy/lib (pino JSON lines plus anything printed to stderr). */
export function summarizeGatewayLog(file: string, alive: boolean): GatewayLogSummary {
  const summary: GatewayLogSummary = { aliveAtEnd: alive, warnings: 0, errors: 0, byMessage: {}, tail: [] };
  if (!existsSync(file)) return summary;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    let entry: { level?: number; msg?: string } | undefined;
    try {
      entry = JSON.parse(line) as { level?: number; msg?: string };
    } catch {
      summary.tail.push(line.slice(0, 300));
      continue;
    }
    if ((entry.level ?? 0) < 40) continue;
    if ((entry.level ?? 0) >= 50) summary.errors++;
    else summary.warnings++;
    const key = entry.msg ?? '(no message)';
    summary.byMessage[key] = (summary.byMessage[key] ?? 0) + 1;
    summary.tail.push(line.slice(0, 500));
  }
  summary.tail = summary.tail.slice(-8);
  return summary;
}

export interface ScaleAnalysis {
  latencyExponent: number;
  msPerHost: Array<{ agents: number; p50MsPerHost: number; natsCpuUsPerHost: number; gatewayCpuUsPerHost: number }>;
  knee?: number;
  kneeReason: string;
}

const PREFIX = 'sim-';
const PER_PROCESS = 1250;

/** What one ramp measured at each level, with what it needs to go on. */
interface RampContext {
  fleet: ScaleFleet;
  swarms: SwarmProcess[];
  observer: RowObserver;
  profPort: number;
  probeDir: string;
  baselineHeap: number;
}

interface Ramp<T> {
  levels: T[];
  stoppedAt?: string;
  gatewayLog?: GatewayLogSummary;
  gatewayBaselineRssMiB: number;
  gatewayBaselineHeapMiB: number;
}

/** How a level is measured once its agents are live. */
type MeasureLevel<T> = (
  ctx: RampContext,
  level: { agents: number; failures: number; startSeconds: number; acceptSeconds: number },
) => Promise<T>;

export async function runScale(opts: { quick: boolean; maxAgents?: number; levels?: number[] }, progress: Progress): Promise<ScaleResult> {
  const all = opts.levels ?? (opts.quick ? [10, 100] : DISPATCH_CURVE_LEVELS);
  const levels = all.filter((n) => n <= (opts.maxAgents ?? Infinity));
  const heartbeatMs = 5000;
  const containersPerHost = 1;
  const after = await ramp(levels, 'workqueue', heartbeatMs, containersPerHost, progress, async (ctx, level) => ({
    ...(await measureLevel(level.agents, level.failures, level.startSeconds, ctx, opts, progress)),
    acceptSeconds: level.acceptSeconds,
  }));
  // The same ramp on the layout before (FLEET_DISPATCH_RETENTION=limits): only the fan-out, for the cost curve.
  const before = await ramp(levels, 'limits', heartbeatMs, containersPerHost, progress, (ctx, level) =>
    measureDispatch(ctx, level.agents, opts, progress),
  );
  return {
    harness:
      'bench/harness/swarm.ts (real startAgent() per agent, own NATS connection each) + bench/harness/simulated-engine.ts (in-memory ' +
      'Docker answers)',
    heartbeatMs,
    containersPerHost,
    gatewayBaselineRssMiB: after.gatewayBaselineRssMiB,
    gatewayBaselineHeapMiB: after.gatewayBaselineHeapMiB,
    levels: after.levels,
    ...(after.stoppedAt ? { stoppedAt: after.stoppedAt } : {}),
    analysis: analyse(after.levels),
    gatewayLog: after.gatewayLog,
    dispatch: {
      after: {
        retention: 'workqueue',
        points: after.levels.map((l) => dispatchPoint(l.agents, l.fanout, l.idle)),
        stoppedAt: after.stoppedAt,
      },
      before: { retention: 'limits', points: before.levels, stoppedAt: before.stoppedAt },
    },
  };
}

/** Starts NATS and a gateway with this dispatch retention, then brings the swarm up level by level, measuring each. */
async function ramp<T>(
  levels: number[],
  retention: DispatchRetentionName,
  heartbeatMs: number,
  containersPerHost: number,
  progress: Progress,
  measure: MeasureLevel<T>,
): Promise<Ramp<T>> {
  const profPort = await freePort();
  progress.say(`scale (FLEET_DISPATCH_RETENTION=${retention}): NATS + gateway for the swarm (levels ${levels.join(', ')})`);
  // The gateway carries bench/harness/probe.cjs so its heap can be read after a full GC.
  const probeDir = mkdtempSync('/tmp/flb-probe-');
  const fleet = await startScaleFleet(
    'info',
    { ...probeEnv(probeDir), FLEET_DISPATCH_RETENTION: retention },
    `prof_port: ${profPort}`,
  ).catch((err) => {
    rmSync(probeDir, { recursive: true, force: true });
    throw err;
  });
  const swarms: SwarmProcess[] = [];
  let observer: RowObserver | undefined;
  const result: Ramp<T> = { levels: [], gatewayBaselineRssMiB: 0, gatewayBaselineHeapMiB: 0 };
  const gatewayPid = fleet.state.gateway.pid;
  try {
    observer = await RowObserver.connect(fleet.nats.url);
    await warmGateway(fleet.state.url, fleet.state.adminKey);
    await sleep(1000);
    result.gatewayBaselineRssMiB = mib(sampleProc(gatewayPid)?.rssBytes ?? 0);
    const baselineHeap = (await probeMemory(gatewayPid, probeDir))?.heapUsed ?? NaN;
    result.gatewayBaselineHeapMiB = mib(baselineHeap);
    const ctx: RampContext = { fleet, swarms, observer, profPort, probeDir, baselineHeap };
    let running = 0;
    for (const target of levels) {
      const t0 = performance.now();
      const increment = target - running;
      const processes = Math.ceil(increment / PER_PROCESS);
      // Accepted before they start, as `fleet up` does (README "Security model"): each starts bound to the
      // consumer its acceptance made, instead of thousands of pending agents asking the broker for theirs meanwhile.
      const acceptStart = performance.now();
      await acceptAgents(
        fleet.state,
        Array.from({ length: increment }, (_, i) => ({ hostname: swarmHostname(PREFIX, running + i), labels: swarmLabels(running + i) })),
      );
      const acceptSeconds = round((performance.now() - acceptStart) / 1000, 1);
      progress.say(
        `scale: accepted ${increment} agents in ${acceptSeconds} s (${round((performance.now() - acceptStart) / increment, 2)} ms ` +
          `each); starting them in ${processes} swarm process(es) → ${target}`,
      );
      const started: SwarmProcess[] = [];
      for (let p = 0; p < processes; p++) {
        const from = running + Math.round((p * increment) / processes);
        const to = running + Math.round(((p + 1) * increment) / processes);
        const swarm = new SwarmProcess(
          {
            natsUrl: fleet.nats.url,
            hostGrantPublicKeyFile: hostGrantKeyFiles(fleet.dir).publicKey,
            prefix: PREFIX,
            from,
            count: to - from,
            heartbeatMs,
            containersPerHost,
          },
          join(fleet.dir, 'logs', `swarm-${swarms.length}.log`),
        );
        // Tracked at once, so that whatever fails next still stops every swarm process started.
        swarms.push(swarm);
        started.push(swarm);
      }
      const readies = await Promise.all(
        started.map((swarm) => swarm.ready(300_000, (count) => progress.say(`  swarm ${swarm.pid}: ${count} agents started`))),
      ).catch((err: unknown) => {
        // A level this box cannot start ends the ramp, not the section: the levels measured so far stay.
        result.stoppedAt = `${target} agents: the swarm did not start (${err instanceof Error ? err.message : String(err)})`;
        return undefined;
      });
      if (!readies) {
        progress.say(`scale: stopping the ramp — ${result.stoppedAt}`);
        break;
      }
      const failures = readies.reduce((sum, ready) => sum + ready.failed, 0);
      for (const ready of readies) for (const error of ready.errors) progress.say(`  swarm: ${error}`);
      const reached = running + readies.reduce((sum, ready) => sum + ready.started, 0);
      const live = await waitForLive(fleet.state.url, fleet.state.adminKey, reached, progress);
      const startSeconds = round((performance.now() - t0) / 1000, 1);
      progress.say(`scale: ${live} agents live (wanted ${target}) after ${startSeconds} s`);
      running = target;
      if (live < target * 0.99) {
        result.stoppedAt = `${target} agents: only ${live} became live (${failures} failed to start)`;
        progress.say(`scale: stopping the ramp — ${result.stoppedAt}`);
        break;
      }
      await sleep(2000);
      try {
        result.levels.push(await measure(ctx, { agents: target, failures, startSeconds, acceptSeconds }));
      } catch (err) {
        // Keep every level measured so far; say where and why the ramp ended.
        result.stoppedAt =
          `${target} agents: measuring failed ` + `(${err instanceof Error ? err.message : String(err)})${gatewayGone(gatewayPid)}`;
        progress.say(`scale: stopping the ramp — ${result.stoppedAt}`);
        break;
      }
    }
  } finally {
    progress.say(`scale: stopping ${swarms.length} swarm process(es)`);
    await observer?.close().catch(() => undefined);
    result.gatewayLog = summarizeGatewayLog(join(fleet.dir, 'logs', 'gateway.log'), sampleProc(gatewayPid) !== undefined);
    if (!result.gatewayLog.aliveAtEnd)
      progress.say(`scale: the gateway (pid ${gatewayPid}) had exited; end of its log:\n${result.gatewayLog.tail.join('\n')}`);
    await Promise.all(swarms.map((swarm) => swarm.stop().catch(() => undefined)));
    try {
      await fleet.stop();
    } finally {
      rmSync(probeDir, { recursive: true, force: true });
    }
  }
  return result;
}

/** The `_all` fan-out alone at this level: its latency and every process's CPU per call. */
async function measureDispatch(ctx: RampContext, agents: number, opts: { quick: boolean }, progress: Progress): Promise<DispatchPoint> {
  const loop = fanoutLoop(ctx, agents, opts);
  const idleWatch = new ProcWatch(loop.pids, 250);
  await sleep(opts.quick ? 2000 : 4000);
  const idle = idleWatch.stop();
  const fanout = await measureFanout(loop, progress, `_all × ${agents}`);
  return dispatchPoint(agents, fanout, idle);
}

function fanoutLoop(ctx: RampContext, agents: number, opts: { quick: boolean }): FanoutLoop {
  const { url, adminKey } = ctx.fleet.state;
  return {
    url,
    adminKey,
    observer: ctx.observer,
    path: '/node/_all/container/docker?all=true',
    expectHosts: agents,
    maxCalls: 200,
    maxMs: fanoutBudgetMs(agents, opts),
    minCalls: opts.quick ? 3 : agents >= 10_000 ? 5 : agents >= 2500 ? 8 : 10,
    // The swarm processes too: with every agent on the same 2 cores, their CPU is part of what a fan-out waits for.
    pids: {
      gateway: ctx.fleet.state.gateway.pid,
      nats: ctx.fleet.nats.pid,
      ...Object.fromEntries(ctx.swarms.map((swarm, i) => [`swarm ${i}`, swarm.pid])),
    },
  };
}

function fanoutBudgetMs(agents: number, opts: { quick: boolean }): number {
  return opts.quick ? 5000 : agents >= 2500 ? 30_000 : agents >= 1000 ? 15_000 : 10_000;
}

export function dispatchPoint(agents: number, fanout: FanoutMeasurement, idle: WatchResult): DispatchPoint {
  const calls = fanout.calls + fanout.failedCalls;
  const idleNatsCpuMsPerCall =
    ((idle.processes.nats?.cpuSeconds ?? NaN) / idle.wallSeconds) * ((fanout.watch.wallSeconds * 1000) / Math.max(1, calls));
  return {
    agents,
    calls: fanout.calls,
    failedCalls: fanout.failedCalls,
    p50Ms: fanout.full.p50,
    p99Ms: fanout.full.p99,
    natsCpuUsPerHost: round((((fanout.cpuMsPerCall.nats ?? NaN) - idleNatsCpuMsPerCall) * 1000) / agents, 0),
    natsRawCpuUsPerHost: round(((fanout.cpuMsPerCall.nats ?? NaN) * 1000) / agents, 0),
    gatewayCpuUsPerHost: round(((fanout.cpuMsPerCall.gateway ?? NaN) * 1000) / agents, 0),
  };
}

async function measureLevel(
  agents: number,
  startFailures: number,
  startSeconds: number,
  ctx: RampContext,
  opts: { quick: boolean },
  progress: Progress,
): Promise<ScaleLevel> {
  const { fleet, swarms, observer, profPort, probeDir, baselineHeap: baselineHeapBytes } = ctx;
  const { url, adminKey } = fleet.state;
  const loop = fanoutLoop(ctx, agents, opts);
  // Idle: what heartbeats alone cost the gateway and NATS at this fleet size.
  const idleWatch = new ProcWatch(loop.pids, 250);
  await sleep(opts.quick ? 2000 : 4000);
  const idle = idleWatch.stop();
  const gatewayIdleRssMiB = idle.processes.gateway?.rssMiB ?? NaN;
  const gatewayHeap = (await probeMemory(fleet.state.gateway.pid, probeDir))?.heapUsed ?? NaN;

  const profileSeconds = !opts.quick && agents >= 1000 ? Math.min(10, Math.floor(loop.maxMs / 1000) - 2) : 0;
  const profile = profileSeconds > 0 ? fetchGoProfile(profPort, profileSeconds).catch(() => undefined) : undefined;
  const fanout = await measureFanout(loop, progress, `_all × ${agents}`);
  const natsProfile = profile ? await profile : undefined;
  const swarmCpuMs = Object.entries(fanout.cpuMsPerCall).reduce((sum, [name, ms]) => (name.startsWith('swarm') ? sum + ms : sum), 0);
  progress.say(
    `  CPU per _all call: gateway ${fanout.cpuMsPerCall.gateway} ms, NATS ${fanout.cpuMsPerCall.nats} ms, agents (swarm processes) ` +
      `${round(swarmCpuMs, 1)} ms`,
  );

  const anyPing = await sequential(url, adminKey, '/node/_any/container/docker/system/ping', opts.quick ? 30 : 100);
  progress.say(`  _any ping × ${agents}: p50 ${anyPing.p50} p99 ${anyPing.p99} ms`);

  const inflight = await measureInflight(
    url,
    adminKey,
    swarms,
    observer,
    fleet.state.gateway.pid,
    probeDir,
    opts.quick ? 500 : 2000,
    progress,
  );
  const swarmRss = (
    await Promise.all(
      swarms.map((swarm) =>
        swarm.stats().then(
          (stats) => stats.rssBytes,
          () => 0,
        ),
      ),
    )
  ).reduce((a, b) => a + b, 0);
  return {
    agents,
    startFailures,
    startSeconds,
    swarmProcesses: swarms.length,
    fanout,
    anyPing,
    idle,
    gatewayIdleRssMiB,
    gatewayHeapMiB: mib(gatewayHeap),
    gatewayKiBPerAgent: round((gatewayHeap - baselineHeapBytes) / 1024 / agents, 2),
    inflight,
    swarmRssMiB: mib(swarmRss),
    natsOpenFiles: openFiles(fleet.nats.pid),
    ...(natsProfile ? { natsProfile: { seconds: profileSeconds, calls: fanout.calls, top: topFunctions(natsProfile.functions) } } : {}),
  };
}

function topFunctions(functions: FunctionTime[]): FunctionTime[] {
  return [...functions]
    .sort((a, b) => b.totalMs - a.totalMs)
    .filter((f) => f.name.includes('nats-server'))
    .slice(0, 12);
}

async function sequential(url: string, adminKey: string, path: string, count: number): Promise<Summary> {
  const http = new HttpClient(url, { authorization: `Bearer ${adminKey}` });
  const samples: number[] = [];
  try {
    await http.call('GET', path).catch(() => undefined);
    await boundedLoop(count, 30_000, async () => {
      const res = await http.call('GET', path).catch(() => undefined);
      if (res?.status === 200) samples.push(res.ms);
    });
  } finally {
    http.close();
  }
  return summarize(samples);
}

/**
 * Memory per in-flight job: `jobs` async calls (`?async=true`, so no HTTP
 * request stays open) that the simulated engines hold until released; the
 * gateway's RSS with all of them in flight, minus before, per job.
 */
async function measureInflight(
  url: string,
  adminKey: string,
  swarms: SwarmProcess[],
  observer: RowObserver,
  gatewayPid: number,
  probeDir: string,
  jobs: number,
  progress: Progress,
): Promise<InflightMeasurement> {
  await Promise.all(swarms.map((swarm) => swarm.arm()));
  const http = new HttpClient(url, { authorization: `Bearer ${adminKey}` }, 32);
  const heapBefore = (await probeMemory(gatewayPid, probeDir))?.heapUsed ?? NaN;
  const rssBefore = sampleProc(gatewayPid)?.rssBytes ?? 0;
  const ids: string[] = [];
  let next = 0;
  try {
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        while (next < jobs) {
          const i = next++;
          const res = await http.call('GET', `/node/_any/container/docker/held-${i}?async=true&timeout=120`).catch(() => undefined);
          if (res?.status === 202) ids.push((JSON.parse(res.body) as { job_id: string }).job_id);
        }
      }),
    );
    await sleep(1000);
    const heapHeld = (await probeMemory(gatewayPid, probeDir))?.heapUsed ?? NaN;
    const rssHeld = sampleProc(gatewayPid)?.rssBytes ?? 0;
    const t0 = performance.now();
    await Promise.all(swarms.map((swarm) => swarm.release()));
    let completed = 0;
    await boundedLoop(600, 60_000, async () => {
      completed = ids.reduce((sum, id) => sum + Math.min(1, observer.finalCount(id)), 0);
      if (completed < ids.length) await sleep(100);
    });
    completed = ids.reduce((sum, id) => sum + Math.min(1, observer.finalCount(id)), 0);
    const drainMs = round(performance.now() - t0, 0);
    ids.forEach((id) => observer.take(id));
    const result = {
      jobs,
      accepted: ids.length,
      heapBeforeMiB: mib(heapBefore),
      heapHeldMiB: mib(heapHeld),
      rssBeforeMiB: mib(rssBefore),
      rssHeldMiB: mib(rssHeld),
      kibPerJob: round((heapHeld - heapBefore) / 1024 / Math.max(1, ids.length), 2),
      completed,
      drainMs,
    };
    progress.say(
      `  in flight: ${ids.length} jobs held, gateway heap ${result.heapBeforeMiB} → ${result.heapHeldMiB} MiB (${result.kibPerJob} ` +
        `KiB/job; RSS ${result.rssBeforeMiB} → ${result.rssHeldMiB} MiB), ${completed} done ${drainMs} ms after release`,
    );
    return result;
  } finally {
    http.close();
  }
}

/** Polls GET /agent until `want` swarm agents are live (bounded). */
async function waitForLive(url: string, adminKey: string, want: number, progress: Progress): Promise<number> {
  let live = 0;
  await boundedLoop(240, 120_000, async (i) => {
    try {
      live = (await listAgents({ url, adminKey })).filter((agent) => agent.live && agent.hostname.startsWith(PREFIX)).length;
    } catch (err) {
      if (i % 10 === 0) progress.say(`  GET /agent: ${(err as Error).message}`);
    }
    if (live < want) await sleep(500);
  });
  return live;
}

function gatewayGone(pid: number): string {
  return sampleProc(pid) ? '' : `; the gateway process (pid ${pid}) had exited`;
}

async function warmGateway(url: string, adminKey: string): Promise<void> {
  const http = new HttpClient(url, { authorization: `Bearer ${adminKey}` });
  try {
    for (let i = 0; i < 5; i++) await http.call('GET', '/agent');
  } finally {
    http.close();
  }
}

function analyse(levels: ScaleLevel[]): ScaleAnalysis {
  const msPerHost = levels.map((level) => ({
    agents: level.agents,
    p50MsPerHost: round(level.fanout.full.p50 / level.agents, 3),
    natsCpuUsPerHost: round(((level.fanout.cpuMsPerCall.nats ?? NaN) * 1000) / level.agents, 0),
    gatewayCpuUsPerHost: round(((level.fanout.cpuMsPerCall.gateway ?? NaN) * 1000) / level.agents, 0),
  }));
  const latencyExponent = logLogSlope(levels.filter((l) => l.agents >= 100).map((l) => ({ x: l.agents, y: l.fanout.full.p50 })));
  // The knee: the first level from 500 up whose NATS CPU per host is at least 1.5× the cheapest seen below it.
  let knee: number | undefined;
  let kneeReason = 'per-host cost stays flat across the levels measured';
  for (let i = 1; i < msPerHost.length; i++) {
    const cheapest = Math.min(
      ...msPerHost
        .slice(0, i)
        .filter((m) => m.agents >= 100)
        .map((m) => m.natsCpuUsPerHost),
    );
    if (msPerHost[i].agents >= 500 && Number.isFinite(cheapest) && msPerHost[i].natsCpuUsPerHost >= 1.5 * cheapest) {
      knee = msPerHost[i].agents;
      kneeReason = `NATS CPU per host per _all call rises from ${cheapest} µs to ${msPerHost[i].natsCpuUsPerHost} µs at ${knee} agents`;
      break;
    }
  }
  return { latencyExponent, msPerHost, knee, kneeReason };
}
