import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  acceptAgents,
  type FleetState,
  hostGrantKeyFiles,
  listAgents,
  type NatsServer,
  respawnNats,
  sendSignal,
  startFleet,
  startNats,
  stopFleet,
  stopNats,
  waitForExit,
} from '@fleet/deploy';
// A thousand agents on this box are the scale harness's swarm: real agent code, simulated engines (README "Benchmarks").
// eslint-disable-next-line fleet/import-boundaries -- see above
import { SwarmProcess } from '../../bench/harness/swarm-client';
// eslint-disable-next-line fleet/import-boundaries -- see above
import { swarmHostname, swarmLabels } from '../../bench/harness/swarm-protocol';
import { eventually } from './faults';

/** The limits the scale harness gives nats-server, so that a thousand connections and their bursts fit. */
const SWARM_NATS_CONFIG = ['max_connections: 12000', 'max_payload: 1MB', 'max_pending: 256MB', 'write_deadline: "10s"'].join('\n');

const PREFIX = 'swarm-';

/**
 * A nats-server (JetStream on file storage, as deployed), a gateway, and `agents` real agents in swarm processes
 * of `perProcess` each, accepted and live. The broker can be killed and started again by its PID on the same store.
 */
export interface SwarmFleet {
  state: FleetState;
  nats: NatsServer;
  swarms: SwarmProcess[];
  hostnames: string[];
  killBroker(signal?: NodeJS.Signals): Promise<void>;
  startBroker(): Promise<void>;
  /** Every agent's last heartbeat the gateway heard (GET /agent), by hostname, with whether it counts as live. */
  lastSeen(): Promise<Map<string, { live: boolean; seenAt: number }>>;
  /** How often each `counted-…` container was restarted on each host's engine, by `<hostname> <container>`. */
  counted(): Promise<Map<string, number>>;
  stop(): Promise<void>;
}

export async function startSwarmFleet(opts: {
  agents: number;
  perProcess: number;
  gatewayEnv?: Record<string, string>;
}): Promise<SwarmFleet> {
  const dir = mkdtempSync('/tmp/flt-swarm-');
  const swarms: SwarmProcess[] = [];
  let nats: NatsServer | undefined;
  let state: FleetState | undefined;
  const stop = async () => {
    await Promise.all(swarms.map((swarm) => swarm.stop().catch(() => undefined)));
    if (state) await stopFleet(state).catch(() => undefined);
    if (nats) await stopNats(nats).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    nats = await startNats({ dir: join(dir, 'nats'), logFile: join(dir, 'nats.log'), detached: false, extraConfig: SWARM_NATS_CONFIG });
    state = await startFleet({ dir, agents: [], natsUrl: nats.url, detached: false, logLevel: 'warn', gatewayEnv: opts.gatewayEnv });
    const hostnames = Array.from({ length: opts.agents }, (_, index) => swarmHostname(PREFIX, index));
    await acceptAgents(
      state,
      hostnames.map((hostname, index) => ({ hostname, labels: swarmLabels(index) })),
    );
    for (let from = 0; from < opts.agents; from += opts.perProcess) {
      const config = {
        natsUrl: nats.url,
        hostGrantPublicKeyFile: hostGrantKeyFiles(dir).publicKey,
        prefix: PREFIX,
        from,
        count: Math.min(opts.perProcess, opts.agents - from),
      };
      swarms.push(new SwarmProcess(config, join(dir, 'logs', `swarm-${swarms.length}.log`)));
    }
    const readies = await Promise.all(swarms.map((swarm) => swarm.ready(300_000)));
    const failed = readies.reduce((sum, ready) => sum + ready.failed, 0);
    if (failed > 0) throw new Error(`${failed} swarm agents failed to start: ${readies.flatMap((ready) => ready.errors).join('; ')}`);
    const fleet: SwarmFleet = {
      state,
      nats,
      swarms,
      hostnames,
      async killBroker(signal = 'SIGKILL') {
        const server = fleet.nats;
        sendSignal(server.pid, signal);
        if (!(await waitForExit(server.pid, 20_000))) throw new Error(`nats-server (pid ${server.pid}) did not exit after ${signal}`);
      },
      async startBroker() {
        fleet.nats.pid = await respawnNats(fleet.nats, { detached: false, readyTimeoutMs: 60_000 });
      },
      async lastSeen() {
        const agents = (await listAgents(fleet.state)) as Array<{ hostname: string; live: boolean; last_seen_at?: string }>;
        return new Map(agents.map((agent) => [agent.hostname, { live: agent.live, seenAt: Date.parse(agent.last_seen_at ?? '') }]));
      },
      async counted() {
        const reports = await Promise.all(swarms.map((swarm) => swarm.counted()));
        return new Map(reports.flatMap((report) => Object.entries(report.byHostAndContainer)));
      },
      stop,
    };
    await eventually(
      `all ${opts.agents} swarm agents to be live`,
      async () => [...(await fleet.lastSeen()).values()].filter((agent) => agent.live).length >= opts.agents,
      180_000,
      1_000,
    );
    return fleet;
  } catch (err) {
    await stop();
    throw err;
  }
}
