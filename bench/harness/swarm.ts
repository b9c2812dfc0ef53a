/**
 * SCALE HARNESS ONLY — never used by functional tests.
 *
 * One OS process running many real agents: each is the real `startAgent()`
 * (apps/agent/src/agent.ts) with its own NATS connection, hostname, labels,
 * durable consumer and heartbeat, against a simulated engine
 * (./simulated-engine.ts) instead of a dockerd. Started and driven by
 * bench/harness/swarm-client.ts over an IPC channel.
 */
// The scale harness runs the real agent, thousands to a process, which its entry point (one agent per process) cannot.
// eslint-disable-next-line fleet/import-boundaries -- see above
import { AGENT_SETTINGS, type AgentConfig } from '../../apps/agent/src/config';
// eslint-disable-next-line fleet/import-boundaries -- see above
import { startAgent, type RunningAgent } from '../../apps/agent/src/agent';
import { readFileSync } from 'node:fs';
import { DEFAULT_REGISTRIES } from '@fleet/contracts/host-access';
import { createLogger } from '@fleet/runtime/logger';
import { COUNTED_PREFIX, HoldGate, simulatedEngine } from './simulated-engine';
import {
  SWARM_DEFAULTS,
  swarmHostname,
  swarmLabels,
  type SwarmConfig,
  type SwarmReport,
  type SwarmRequest,
  type SwarmSettings,
} from './swarm-protocol';

function send(report: SwarmReport): void {
  process.send?.(report);
}

async function main(): Promise<void> {
  const config: SwarmConfig & SwarmSettings = { ...SWARM_DEFAULTS, ...(JSON.parse(process.env.SWARM_CONFIG ?? '{}') as SwarmConfig) };
  const hostGrantPublicKey = readFileSync(config.hostGrantPublicKeyFile, 'utf8');
  const baseLog = createLogger('fleet-agent', config.logLevel);
  const gate = new HoldGate();
  const agents: RunningAgent[] = [];
  const restarts = new Map<string, number>();
  /** Restarts of `counted-…` containers by `<hostname> <container>`: how often each mutation reached each engine. */
  const counted = new Map<string, number>();
  const failing = new Set(config.failingHosts ?? []);
  const errors: string[] = [];
  let failed = 0;
  let stopping = false;
  const started = performance.now();
  const deadline = Date.now() + config.startTimeoutMs;

  process.on('message', (request: SwarmRequest) => {
    if (request.type === 'arm') {
      gate.arm();
      send({ type: 'armed' });
    }
    if (request.type === 'release') send({ type: 'released', count: gate.release() });
    if (request.type === 'stats') {
      const memory = process.memoryUsage();
      send({ type: 'stats', rssBytes: memory.rss, heapUsedBytes: memory.heapUsed, held: gate.held, agents: agents.length });
    }
    if (request.type === 'restarts') send({ type: 'restarts', byHost: Object.fromEntries(restarts) });
    if (request.type === 'counted') send({ type: 'counted', byHostAndContainer: Object.fromEntries(counted) });
    if (request.type === 'stop') void stopAll();
  });
  // The bench going away must never leave agents behind.
  process.on('disconnect', () => void stopAll());

  async function startOne(index: number): Promise<void> {
    const hostname = swarmHostname(config.prefix, index);
    const agentConfig: AgentConfig = {
      natsUrl: config.natsUrl,
      hostname,
      labels: swarmLabels(index),
      dockerHost: 'simulated://',
      heartbeatMs: config.heartbeatMs,
      refreshMs: config.refreshMs,
      concurrency: config.concurrency,
      longRunningConcurrency: AGENT_SETTINGS.FLEET_AGENT_LONG_RUNNING_CONCURRENCY.default,
      maxOutputBytes: AGENT_SETTINGS.FLEET_AGENT_MAX_OUTPUT_BYTES.default,
      tlsExpiryWarningDays: AGENT_SETTINGS.FLEET_TLS_EXPIRY_WARNING_DAYS.default,
      hostGrantPublicKey,
      registries: [...DEFAULT_REGISTRIES],
    };
    const engine = simulatedEngine({
      hostname,
      containers: config.containersPerHost,
      hold: gate,
      failRestart: failing.has(hostname),
      onRestart: (id) => {
        restarts.set(hostname, (restarts.get(hostname) ?? 0) + 1);
        if (id.startsWith(COUNTED_PREFIX)) counted.set(`${hostname} ${id}`, (counted.get(`${hostname} ${id}`) ?? 0) + 1);
      },
    });
    for (let attempt = 1; attempt <= 3; attempt++) {
      try {
        agents.push(await startAgent(agentConfig, engine, baseLog.child({ hostname })));
        return;
      } catch (err) {
        if (attempt === 3) {
          failed++;
          if (errors.length < 5) errors.push(`${hostname}: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
    }
  }

  let next = config.from;
  const end = config.from + config.count;
  let lastProgress = 0;
  const workers = Array.from({ length: Math.min(config.startParallel, config.count) }, async () => {
    while (next < end && !stopping && Date.now() < deadline) {
      await startOne(next++);
      if (agents.length - lastProgress >= 250) {
        lastProgress = agents.length;
        send({ type: 'progress', started: agents.length });
      }
    }
  });
  await Promise.all(workers);
  if (next < end) errors.push(`start gave up after ${config.startTimeoutMs} ms with ${end - next} agents not attempted`);
  send({ type: 'ready', started: agents.length, failed: failed + (end - next), ms: Math.round(performance.now() - started), errors });

  async function stopAll(): Promise<void> {
    if (stopping) return;
    stopping = true;
    const t0 = performance.now();
    gate.release();
    // Bounded: whatever has not deregistered after 60 s is cut off by exit (its entry ages out by TTL).
    const hardStop = setTimeout(() => process.exit(0), 60_000);
    hardStop.unref();
    const queue = [...agents];
    await Promise.all(
      Array.from({ length: 100 }, async () => {
        for (let agent = queue.pop(); agent; agent = queue.pop()) await agent.stop().catch(() => undefined);
      }),
    );
    send({ type: 'stopped', ms: Math.round(performance.now() - t0) });
    process.exit(0);
  }
}

main().catch((err) => {
  process.stderr.write(`swarm: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
