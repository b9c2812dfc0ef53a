/**
 * What grows with the fleet besides dispatch (issue 21, README "Agents and heartbeats"), on the scale harness:
 * heartbeat writes and the broker CPU they cost with the fleet idle, the gateway's heap per live agent, an
 * acceptance (its consumer made), `GET /agent?limit=100`, and a gateway start beside the whole fleet.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { AGENTS_BUCKET, kvSubject } from '@fleet/contracts/protocol';
import { acceptAgents, hostGrantKeyFiles, killGateway, startGatewayAgain } from '@fleet/deploy';
import { SwarmProcess } from '../harness/swarm-client';
import { swarmHostname, swarmLabels } from '../harness/swarm-protocol';
import { sleep, type Progress } from '../lib/context';
import { startScaleFleet, type ScaleFleet } from '../lib/fleets';
import { HttpClient } from '../lib/http';
import { mib, ProcWatch } from '../lib/proc';
import { probeEnv, probeMemory } from '../lib/probe';
import { round, summarize, type Summary } from '../lib/stats';

/** The agents' defaults (apps/agent/src/config.ts): a check every 5 s, a refresh every 30 s jittered down to 24 s. */
const HEARTBEAT_MS = 5_000;
/** The old scheme rewrote every record at every heartbeat: a refresh as often as the checks does the same. */
const OLD_REFRESH_MS = HEARTBEAT_MS;
/** Long enough to hold every agent's refresh once (at most 30 s apart). */
const WINDOW_MS = 30_000;
const PREFIX = 'fs-';
const PER_PROCESS = 1250;
const LIST_CALLS = 200;

export interface HeartbeatWindow {
  agents: number;
  refreshMs: number | 'default';
  seconds: number;
  writes: number;
  writesPerSecond: number;
  /** nats-server's CPU over the idle window, % of one core: heartbeats and the idle connections. */
  natsCpuPercentOfCore: number;
  natsCpuUsPerWrite: number;
  gatewayCpuPercentOfCore: number;
}

export interface FleetSizeLevel {
  agents: number;
  /** POST /agent/{hostname}/accept, each making the host's consumer, 20 at a time. */
  acceptMsPerAgent: number;
  startSeconds: number;
  heartbeats: HeartbeatWindow;
  /** The old scheme measured on the same agents (first level only). */
  heartbeatsBefore?: HeartbeatWindow;
  gatewayHeapMiB: number;
  /** (heap at this level − heap with no agents) / agents. */
  gatewayHeapKiBPerAgent: number;
  listLimit100: Summary;
  listFiltered: Summary;
}

export interface FleetSizeResult {
  harness: string;
  heartbeatMs: number;
  refreshMs: string;
  gatewayBaselineHeapMiB: number;
  levels: FleetSizeLevel[];
  /** (heap at the last level − heap at the first) / the agents added in between. */
  marginalHeapKiBPerAgent?: number;
  gatewayStart?: GatewayStart;
  /** The same start with no agent at all: what the agents add is the difference. */
  gatewayStartEmpty?: GatewayStart;
  stoppedAt?: string;
}

export interface GatewayStart {
  agents: number;
  healthMs: number;
  firstListMs: number;
  listedAtFirstList: number;
}

export async function runFleetSize(opts: { quick: boolean; maxAgents?: number }, progress: Progress): Promise<FleetSizeResult> {
  const levels = (opts.quick ? [100, 1000] : [1000, 10_000]).filter((n) => n <= (opts.maxAgents ?? Infinity));
  const probeDir = mkdtempSync('/tmp/flb-fs-probe-');
  const fleet = await startScaleFleet('warn', probeEnv(probeDir)).catch((err) => {
    rmSync(probeDir, { recursive: true, force: true });
    throw err;
  });
  const swarms: SwarmProcess[] = [];
  const result: FleetSizeResult = {
    harness: 'bench/harness/swarm.ts (real startAgent() per agent) + simulated engines',
    heartbeatMs: HEARTBEAT_MS,
    refreshMs: 'default (30 s, jittered 24–30 s)',
    gatewayBaselineHeapMiB: 0,
    levels: [],
  };
  const http = new HttpClient(fleet.state.url, { authorization: `Bearer ${fleet.state.adminKey}` });
  const nc = await connect({ servers: fleet.nats.url, name: 'bench-fleet-size' });
  try {
    result.gatewayStartEmpty = await gatewayStart(fleet, http, 0, progress);
    for (let i = 0; i < 20; i++) await http.call('GET', '/agent?limit=100');
    const baselineHeap = (await probeMemory(fleet.state.gateway.pid, probeDir))?.heapUsed ?? NaN;
    result.gatewayBaselineHeapMiB = mib(baselineHeap);
    let running = 0;
    for (const target of levels) {
      const increment = target - running;
      const acceptStart = performance.now();
      await acceptAgents(
        fleet.state,
        Array.from({ length: increment }, (_, i) => ({ hostname: swarmHostname(PREFIX, running + i), labels: swarmLabels(running + i) })),
      );
      const acceptMsPerAgent = round((performance.now() - acceptStart) / increment, 2);
      progress.say(`fleet-size: accepted ${increment} agents, ${acceptMsPerAgent} ms each`);
      let heartbeatsBefore: HeartbeatWindow | undefined;
      if (result.levels.length === 0) {
        // The old scheme first, on the same hosts: every record rewritten every 5 s.
        const old = await startSwarms(fleet, swarms, running, increment, OLD_REFRESH_MS, progress);
        await waitForTotal(http, target, progress);
        heartbeatsBefore = await heartbeatWindow(nc, fleet, target, OLD_REFRESH_MS);
        progress.say(`fleet-size: ${target} agents refreshing every 5 s: ${heartbeatsBefore.writesPerSecond} writes/s`);
        await Promise.all(old.map((swarm) => swarm.stop().catch(() => undefined)));
        swarms.splice(swarms.length - old.length, old.length);
      }
      const t0 = performance.now();
      await startSwarms(fleet, swarms, running, increment, undefined, progress);
      const live = await waitForTotal(http, target, progress);
      const startSeconds = round((performance.now() - t0) / 1000, 1);
      running = target;
      if (live < target) {
        result.stoppedAt = `${target} agents: only ${live} listed live`;
        break;
      }
      const heartbeats = await heartbeatWindow(nc, fleet, target, 'default');
      progress.say(
        `fleet-size: ${target} agents idle: ${heartbeats.writesPerSecond} writes/s, NATS ${heartbeats.natsCpuPercentOfCore}% of a core`,
      );
      const heap = (await probeMemory(fleet.state.gateway.pid, probeDir))?.heapUsed ?? NaN;
      result.levels.push({
        agents: target,
        acceptMsPerAgent,
        startSeconds,
        heartbeats,
        heartbeatsBefore,
        gatewayHeapMiB: mib(heap),
        gatewayHeapKiBPerAgent: round((heap - baselineHeap) / target / 1024, 2),
        listLimit100: await timeCalls(http, '/agent?limit=100'),
        listFiltered: await timeCalls(http, '/agent?limit=100&state=all&target=role:web,zone:eu.west.1'),
      });
    }
    const [first, last] = [result.levels[0], result.levels.at(-1)];
    if (first && last && last !== first) {
      const added = (last.gatewayHeapMiB - first.gatewayHeapMiB) * 1024;
      result.marginalHeapKiBPerAgent = round(added / (last.agents - first.agents), 2);
    }
    if (last) result.gatewayStart = await gatewayStart(fleet, http, last.agents, progress);
  } finally {
    http.close();
    await nc.close().catch(() => undefined);
    await Promise.all(swarms.map((swarm) => swarm.stop().catch(() => undefined)));
    try {
      await fleet.stop();
    } finally {
      rmSync(probeDir, { recursive: true, force: true });
    }
  }
  return result;
}

async function startSwarms(
  fleet: ScaleFleet,
  swarms: SwarmProcess[],
  from: number,
  count: number,
  refreshMs: number | undefined,
  progress: Progress,
): Promise<SwarmProcess[]> {
  const processes = Math.ceil(count / PER_PROCESS);
  const started: SwarmProcess[] = [];
  for (let p = 0; p < processes; p++) {
    const start = from + Math.round((p * count) / processes);
    const end = from + Math.round(((p + 1) * count) / processes);
    const swarm = new SwarmProcess(
      {
        natsUrl: fleet.nats.url,
        hostGrantPublicKeyFile: hostGrantKeyFiles(fleet.dir).publicKey,
        prefix: PREFIX,
        from: start,
        count: end - start,
        heartbeatMs: HEARTBEAT_MS,
        refreshMs,
      },
      join(fleet.dir, 'logs', `fleet-size-swarm-${swarms.length}.log`),
    );
    swarms.push(swarm);
    started.push(swarm);
  }
  const readies = await Promise.all(started.map((swarm) => swarm.ready(600_000)));
  for (const ready of readies) for (const error of ready.errors) progress.say(`  swarm: ${error}`);
  return started;
}

/** Polls `GET /agent?limit=1` until its total of live agents reaches `want` (or 3 minutes pass); the last total. */
async function waitForTotal(http: HttpClient, want: number, progress: Progress): Promise<number> {
  const deadline = performance.now() + 180_000;
  let total = 0;
  for (let poll = 1; total < want && performance.now() < deadline; poll++) {
    const res = await http.call('GET', '/agent?limit=1').catch(() => undefined);
    if (res?.status === 200) total = (JSON.parse(res.body) as { total: number }).total;
    if (poll % 20 === 0) progress.say(`  ${total} of ${want} agents listed live`);
    if (total < want) await sleep(250);
  }
  return total;
}

/** Heartbeat writes to the agents bucket over one idle window, and what the broker and the gateway spent meanwhile. */
async function heartbeatWindow(
  nc: NatsConnection,
  fleet: ScaleFleet,
  agents: number,
  refreshMs: number | 'default',
): Promise<HeartbeatWindow> {
  // Past the start: the writes every agent makes when it starts are not heartbeats.
  await sleep(5_000);
  let writes = 0;
  const sub = nc.subscribe(kvSubject(AGENTS_BUCKET, '>'), { callback: () => void writes++ });
  const watch = new ProcWatch({ nats: fleet.nats.pid, gateway: fleet.state.gateway.pid }, 1000);
  await sleep(WINDOW_MS);
  const watched = watch.stop();
  sub.unsubscribe();
  const seconds = watched.wallSeconds;
  const natsCpu = watched.processes.nats?.cpuSeconds ?? NaN;
  return {
    agents,
    refreshMs,
    seconds: round(seconds, 1),
    writes,
    writesPerSecond: round(writes / seconds, 1),
    natsCpuPercentOfCore: watched.processes.nats?.cpuPercentOfCore ?? NaN,
    natsCpuUsPerWrite: writes > 0 ? round((natsCpu * 1e6) / writes, 1) : NaN,
    gatewayCpuPercentOfCore: watched.processes.gateway?.cpuPercentOfCore ?? NaN,
  };
}

async function timeCalls(http: HttpClient, path: string): Promise<Summary> {
  const ms: number[] = [];
  for (let i = 0; i < LIST_CALLS; i++) {
    const res = await http.call('GET', path);
    if (res.status !== 200) throw new Error(`GET ${path} answered ${res.status}: ${res.body.slice(0, 200)}`);
    ms.push(res.ms);
  }
  return summarize(ms);
}

/**
 * Stops the gateway and starts it again beside the whole fleet: the time until /health answers, and until the
 * first `GET /agent` answers, with how many agents that first answer lists live (the roster is read before it listens).
 */
async function gatewayStart(
  fleet: ScaleFleet,
  http: HttpClient,
  agents: number,
  progress: Progress,
): Promise<FleetSizeResult['gatewayStart']> {
  await killGateway(fleet.state, 'SIGTERM');
  const t0 = performance.now();
  await startGatewayAgain(fleet.state);
  const healthMs = round(performance.now() - t0, 0);
  let listed = 0;
  for (let attempt = 0; attempt < 20; attempt++) {
    const res = await http.call('GET', '/agent?limit=1').catch(() => undefined);
    if (res?.status === 200) {
      listed = (JSON.parse(res.body) as { total: number }).total;
      break;
    }
  }
  const firstListMs = round(performance.now() - t0, 0);
  progress.say(
    `fleet-size: gateway start beside ${agents} agents: /health after ${healthMs} ms, GET /agent lists ${listed} after ${firstListMs} ms`,
  );
  return { agents, healthMs, firstListMs, listedAtFirstList: listed };
}
