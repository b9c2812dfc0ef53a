/**
 * A gateway start beside N accepted agents, without N agent processes (ARCHITECTURE.md "A gateway start beside 10,000
 * agents"): one nats-server and the compiled gateway as the scale bench starts them (bench/lib/fleets.ts), the broker
 * filled with what N accepted, live agents leave there (each accepted through the gateway, so its enrolment and its
 * consumer are made by the gateway's own code, and a fresh record in the agents bucket), then the gateway stopped and started again:
 * the time until /health answers, and until `GET /agent` lists every host.
 *
 *   node --import tsx bench/gateway-start.ts [--agents=10000] [--rounds=3] [--cpu-prof=DIR]
 *
 * With --cpu-prof each restarted gateway writes the V8 CPU profile of its start, until all are listed, into DIR
 * (bench/harness/probe.cjs: node refuses --cpu-prof in NODE_OPTIONS).
 * While the gateway is down and starting, the records are refreshed at the agents' default pace (every 24–30 s),
 * as live agents would.
 */
import { resolve } from 'node:path';
import { Kvm } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { AGENTS_BUCKET, type AgentRecord } from '@fleet/contracts/protocol';
import { acceptAgents, killGateway, startGatewayAgain } from '@fleet/deploy';
import { swarmHostname, swarmLabels } from './harness/swarm-protocol';
import { startScaleFleet } from './lib/fleets';
import { HttpClient } from './lib/http';
import { probeEnv, probeProfile } from './lib/probe';
import { round } from './lib/stats';

const PREFIX = 'gs-';
/** Record writes in flight while filling the broker. */
const FILL_PARALLEL = 64;
/** The agents' default refresh (apps/agent/src/config.ts): each record rewritten about every 27 s. */
const REFRESH_MS = 27_000;

interface StartTiming {
  agents: number;
  healthMs: number;
  listedAllMs: number;
  /** What `/health/ready` answered right after `/health` did: its status and `registry`. */
  readyAtHealth: string;
  /** JetStream API requests (broker round trips) from the kill until all were listed, by kind. */
  jsApiRequests: Record<string, number>;
}

function option(name: string): string | undefined {
  return process.argv.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3);
}

async function inBatches<T>(items: readonly T[], work: (item: T) => Promise<unknown>): Promise<void> {
  for (let from = 0; from < items.length; from += FILL_PARALLEL) await Promise.all(items.slice(from, from + FILL_PARALLEL).map(work));
}

function agentRecord(hostname: string, index: number): AgentRecord {
  return {
    hostname,
    labels: swarmLabels(index),
    agent_version: '0.0.0-bench',
    build: 'bench',
    engine_version: '24.0.0',
    engine: { healthy: true },
    started_at: new Date().toISOString(),
  };
}

async function main(): Promise<void> {
  const agents = Number(option('agents') ?? 10_000);
  const rounds = Number(option('rounds') ?? 3);
  const profileDir = option('cpu-prof');
  const fleet = await startScaleFleet('warn', {});
  const nc = await connect({ servers: fleet.nats.url, name: 'bench-gateway-start' });
  let refresher: NodeJS.Timeout | undefined;
  try {
    const http = new HttpClient(fleet.state.url, { authorization: `Bearer ${fleet.state.adminKey}` });
    const records = await new Kvm(nc).open(AGENTS_BUCKET);
    const hostnames = Array.from({ length: agents }, (_, i) => swarmHostname(PREFIX, i));
    const fillStart = performance.now();
    // Accepted through the gateway (the host's consumer made by its own code), then heard from.
    await acceptAgents(
      fleet.state,
      hostnames.map((hostname, index) => ({ hostname, labels: swarmLabels(index) })),
    );
    await inBatches([...hostnames.keys()], (index) => records.put(hostnames[index], JSON.stringify(agentRecord(hostnames[index], index))));
    process.stderr.write(`gateway-start: ${agents} agents in the broker after ${round((performance.now() - fillStart) / 1000, 1)} s\n`);
    let next = 0;
    const refreshEvery = Math.max(1, Math.round(REFRESH_MS / Math.max(agents, 1)));
    refresher = setInterval(() => {
      if (agents === 0) return;
      const index = next++ % agents;
      void records.put(hostnames[index], JSON.stringify(agentRecord(hostnames[index], index))).catch(() => undefined);
    }, refreshEvery);
    const timings: StartTiming[] = [];
    for (let r = 0; r < rounds; r++) {
      if (profileDir) fleet.state.gatewayEnv = { ...fleet.state.gatewayEnv, ...probeEnv(resolve(profileDir), true) };
      await killGateway(fleet.state, 'SIGTERM');
      const requests = countJsApiRequests(nc);
      const t0 = performance.now();
      await startGatewayAgain(fleet.state);
      const healthMs = performance.now() - t0;
      const ready = await http.call('GET', '/health/ready');
      await untilListed(http, agents);
      const timing = {
        agents,
        healthMs: round(healthMs, 0),
        listedAllMs: round(performance.now() - t0, 0),
        readyAtHealth: `${ready.status} ${(JSON.parse(ready.body) as { registry?: string }).registry ?? ''}`,
        jsApiRequests: requests.stop(),
      };
      const total = Object.values(timing.jsApiRequests).reduce((sum, n) => sum + n, 0);
      process.stderr.write(
        `gateway-start: round ${r + 1}: /health after ${timing.healthMs} ms, all listed after ${timing.listedAllMs} ms, ${total} JS API requests; ` +
          `/health/ready at /health: ${timing.readyAtHealth}\n`,
      );
      timings.push(timing);
      const profile = profileDir ? await probeProfile(fleet.state.gateway.pid, resolve(profileDir)) : undefined;
      if (profile) process.stderr.write(`gateway-start: CPU profile of this start (until all listed) in ${profile}\n`);
    }
    process.stdout.write(`${JSON.stringify({ agents, rounds: timings }, null, 2)}\n`);
  } finally {
    if (refresher) clearInterval(refresher);
    await nc.close();
    await fleet.stop();
  }
}

/**
 * Counts the JetStream API requests made on the broker (the bench's broker has no accounts: a core subscription on
 * `$JS.API.>` hears every request beside the server), by kind: `CONSUMER.INFO`, `STREAM.UPDATE`, …
 * The refresher's KV writes are publishes, not API requests.
 */
function countJsApiRequests(nc: NatsConnection): { stop(): Record<string, number> } {
  const counts: Record<string, number> = {};
  const sub = nc.subscribe('$JS.API.>', {
    callback: (_err, msg) => {
      const kind = msg.subject.split('.').slice(2, 4).join('.');
      counts[kind] = (counts[kind] ?? 0) + 1;
    },
  });
  return {
    stop() {
      sub.unsubscribe();
      return counts;
    },
  };
}

/** Until `GET /agent?state=all` counts every host (its total counts all the hosts of the query, on any page). */
async function untilListed(http: HttpClient, agents: number): Promise<void> {
  for (;;) {
    const res = await http.call('GET', '/agent?state=all&limit=1').catch(() => undefined);
    if (res?.status === 200 && (JSON.parse(res.body) as { total: number }).total >= agents) return;
    await new Promise((done) => setTimeout(done, 20));
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
