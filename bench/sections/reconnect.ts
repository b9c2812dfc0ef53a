import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { acceptAgents, hostGrantKeyFiles, listAgents, respawnNats, sendSignal, waitForExit } from '@fleet/deploy';
import { AGENT_RECONNECT } from '@fleet/runtime/nats';
import { SwarmProcess } from '../harness/swarm-client';
import { swarmHostname, swarmLabels } from '../harness/swarm-protocol';
import { pollUntil, sleep, type Progress } from '../lib/context';
import { startScaleFleet } from '../lib/fleets';
import { sampleProc } from '../lib/proc';
import { round, summarize, type Summary } from '../lib/stats';

/**
 * SCALE HARNESS: a broker restart under N agents (README "Broker restarts"). nats-server is SIGKILLed by its PID,
 * stays down DOWN_MS, and starts again on the same store; each agent is live again at its first heartbeat the
 * gateway hears after the restart (agents heartbeat as soon as they reconnect).
 */
export interface ReconnectLevel {
  agents: number;
  downMs: number;
  /** Per agent: from the broker being up again to its first heartbeat heard by the gateway. */
  liveAgainMs: Summary;
  /** The last agent back, from the broker being up again (the bound README "Broker restarts" states). */
  lastAgentMs: number;
  /**
   * From the broker being up again until it holds a job consumer for every agent: a restarted broker has lost them (they
   * keep their state in memory) and the gateway makes them again; until then a host's jobs wait in its queue.
   */
  consumersBackMs?: number;
  /** Agents not back within the bench's own limit (LIVE_AGAIN_LIMIT_MS). */
  notBack: number;
  /** nats-server's CPU from its restart to the last agent back (its JetStream recovery included), and as % of a core. */
  natsCpuSeconds: number;
  natsCpuPercentOfCore: number;
  gatewayCpuSeconds: number;
  swarmProcesses: number;
}

export interface ReconnectResult {
  harness: string;
  heartbeatMs: number;
  backoff: typeof AGENT_RECONNECT;
  levels: ReconnectLevel[];
  stoppedAt?: string;
}

const PREFIX = 'rc-';
const PER_PROCESS = 1250;
const DOWN_MS = 5_000;
const LIVE_AGAIN_LIMIT_MS = 180_000;

export async function runReconnect(
  opts: { quick: boolean; maxAgents?: number; levels?: number[] },
  progress: Progress,
): Promise<ReconnectResult> {
  const levels = (opts.levels ?? (opts.quick ? [100, 1000] : [1000, 5000, 10_000])).filter((n) => n <= (opts.maxAgents ?? Infinity));
  const heartbeatMs = 5000;
  const result: ReconnectResult = {
    harness: 'bench/harness/swarm.ts (real startAgent() per agent, own NATS connection each), simulated engines',
    heartbeatMs,
    backoff: AGENT_RECONNECT,
    levels: [],
  };
  progress.say(`reconnect: NATS + gateway for the swarm (levels ${levels.join(', ')})`);
  const fleet = await startScaleFleet('warn', {});
  const swarms: SwarmProcess[] = [];
  try {
    let running = 0;
    for (const target of levels) {
      await acceptAgents(
        fleet.state,
        Array.from({ length: target - running }, (_, i) => ({
          hostname: swarmHostname(PREFIX, running + i),
          labels: swarmLabels(running + i),
        })),
      );
      const processes = Math.ceil((target - running) / PER_PROCESS);
      const started = Array.from({ length: processes }, (_, p) => {
        const from = running + Math.round((p * (target - running)) / processes);
        const to = running + Math.round(((p + 1) * (target - running)) / processes);
        const config = {
          natsUrl: fleet.nats.url,
          hostGrantPublicKeyFile: hostGrantKeyFiles(fleet.dir).publicKey,
          prefix: PREFIX,
          from,
          count: to - from,
        };
        const swarm = new SwarmProcess({ ...config, heartbeatMs }, join(fleet.dir, 'logs', `swarm-${swarms.length + p}.log`));
        swarms.push(swarm);
        return swarm;
      });
      await Promise.all(started.map((swarm) => swarm.ready(600_000)));
      running = target;
      const live = await countLive(fleet.state, target);
      if (live < target) {
        result.stoppedAt = `${target} agents: only ${live} became live`;
        progress.say(`reconnect: stopping — ${result.stoppedAt}`);
        break;
      }
      result.levels.push(await restartUnder(target, fleet, swarms, progress));
    }
  } finally {
    await Promise.all(swarms.map((swarm) => swarm.stop().catch(() => undefined)));
    await fleet.stop();
  }
  return result;
}

async function restartUnder(
  agents: number,
  fleet: Awaited<ReturnType<typeof startScaleFleet>>,
  swarms: SwarmProcess[],
  progress: Progress,
): Promise<ReconnectLevel> {
  const gatewayPid = fleet.state.gateway.pid;
  sendSignal(fleet.nats.pid, 'SIGKILL');
  if (!(await waitForExit(fleet.nats.pid, 20_000))) throw new Error('nats-server survived SIGKILL');
  await sleep(DOWN_MS);
  fleet.nats.pid = await respawnNats(fleet.nats, { detached: false, readyTimeoutMs: 120_000 });
  const upAt = Date.now();
  const gatewayCpuBefore = sampleProc(gatewayPid)?.cpuSeconds ?? NaN;
  const consumersBack = whenConsumersBack(fleet.nats.url, agents).then((at) => at - upAt);
  const backAt = new Map<string, number>();
  await pollUntil(
    async () => {
      const heard = await listAgents(fleet.state).catch(() => []);
      for (const agent of heard as Array<{ hostname: string; last_seen_at?: string }>) {
        const seenAt = Date.parse(agent.last_seen_at ?? '');
        if (agent.hostname.startsWith(PREFIX) && seenAt >= upAt && !backAt.has(agent.hostname)) backAt.set(agent.hostname, seenAt - upAt);
      }
      return backAt.size >= agents;
    },
    500,
    LIVE_AGAIN_LIMIT_MS,
  );
  const natsCpuSeconds = sampleProc(fleet.nats.pid)?.cpuSeconds ?? NaN;
  const lastAgentMs = backAt.size > 0 ? Math.max(...backAt.values()) : NaN;
  const level: ReconnectLevel = {
    agents,
    downMs: DOWN_MS,
    liveAgainMs: summarize([...backAt.values()]),
    lastAgentMs,
    consumersBackMs: await consumersBack.catch(() => NaN),
    notBack: agents - backAt.size,
    natsCpuSeconds: round(natsCpuSeconds, 2),
    natsCpuPercentOfCore: round((natsCpuSeconds / (lastAgentMs / 1000)) * 100, 1),
    gatewayCpuSeconds: round((sampleProc(gatewayPid)?.cpuSeconds ?? NaN) - gatewayCpuBefore, 2),
    swarmProcesses: swarms.length,
  };
  progress.say(
    `reconnect × ${agents}: live again p50 ${level.liveAgainMs.p50} p99 ${level.liveAgainMs.p99} ms, last ${lastAgentMs} ms ` +
      `(${level.notBack} not back); every job consumer back after ${level.consumersBackMs} ms; NATS ${level.natsCpuSeconds} s CPU (${level.natsCpuPercentOfCore}% of a core)`,
  );
  return level;
}

/** When (epoch ms) the broker at `natsUrl` holds at least `want` consumers, polled from its account info (bounded). */
async function whenConsumersBack(natsUrl: string, want: number): Promise<number> {
  const nc = await connect({ servers: natsUrl, name: 'bench-consumers', maxReconnectAttempts: -1 });
  try {
    const jsm = await jetstreamManager(nc);
    const back = await pollUntil(
      async () => ((await jsm.getAccountInfo().catch(() => undefined))?.consumers ?? 0) >= want,
      250,
      LIVE_AGAIN_LIMIT_MS,
    );
    return back ? Date.now() : NaN;
  } finally {
    await nc.close();
  }
}

/** Polls GET /agent until `want` of this section's agents are live (bounded). */
async function countLive(state: Awaited<ReturnType<typeof startScaleFleet>>['state'], want: number): Promise<number> {
  let live = 0;
  await pollUntil(
    async () => {
      live = (await listAgents(state).catch(() => [])).filter((agent) => agent.live && agent.hostname.startsWith(PREFIX)).length;
      return live >= want;
    },
    1000,
    300_000,
  );
  return live;
}
