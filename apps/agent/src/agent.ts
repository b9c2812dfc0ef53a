import { createPublicKey } from 'node:crypto';
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import type Docker from 'dockerode';
import { agentInboxPrefix } from '@fleet/contracts/nats-permissions';
import { AGENTS_BUCKET, jobsStreamOf, kvStreamName, RESULTS_BUCKET } from '@fleet/contracts/protocol';
import type { Logger } from '@fleet/runtime/logger';
import { connectNats } from '@fleet/runtime/nats';
import { version as agentVersion } from '../package.json';
import type { AgentConfig } from './config';
import { EXECUTORS } from './executors';
import { AgentMetrics, serveMetrics } from './metrics';
import { Registration } from './registration';
import { JobWorker } from './worker';

export interface RunningAgent {
  /** Deregisters, stops consuming and closes the NATS connection. */
  stop(): Promise<void>;
}

/**
 * One agent: its own NATS connection, job worker and registration, against
 * the engine it is given. The daemon runs one; the benchmark's scale harness
 * runs many in one process.
 */
export async function startAgent(config: AgentConfig, docker: Docker, log: Logger): Promise<RunningAgent> {
  const metrics = new AgentMetrics(config.hostname, { processMetrics: config.metricsAddr !== undefined });
  // Listening first: a busy port fails the start at once, and the first heartbeat already carries metrics_url.
  const metricsServer = config.metricsAddr ? await serveMetrics(metrics.collectors, config.metricsAddr) : undefined;
  const nc = await connectNats(
    {
      servers: config.natsUrl,
      name: `fleet-agent-${config.hostname}`,
      user: config.natsUser,
      pass: config.natsPass,
      inboxPrefix: agentInboxPrefix(config.hostname),
    },
    log,
  );
  metrics.followNats(nc);
  const jsm = await jetstreamManager(nc);
  await waitForTopology(jsm, config.hostname, log);
  const kvm = new Kvm(nc);
  const worker = new JobWorker({
    nc,
    js: jetstream(nc),
    jsm,
    results: await kvm.open(RESULTS_BUCKET),
    docker,
    hostname: config.hostname,
    executors: EXECUTORS,
    concurrency: config.concurrency,
    longRunningConcurrency: config.longRunningConcurrency,
    maxOutputBytes: config.maxOutputBytes,
    hostPolicy: { grantKey: config.hostGrantPublicKey ? createPublicKey(config.hostGrantPublicKey) : undefined, allowedPaths: config.hostPaths },
    log,
    onExecuted: (job, row) => metrics.jobExecuted(job, row),
  });
  // Consume before registering: once listed, a host must already receive its jobs.
  await worker.start();
  const identity = { hostname: config.hostname, labels: config.labels, agentVersion, metricsUrl: metricsServer?.url };
  const registration = new Registration(await kvm.open(AGENTS_BUCKET), docker, identity, config.heartbeatMs, log, (healthy) => metrics.engine(healthy));
  await registration.start();
  log.info({ labels: config.labels, metrics_url: metricsServer?.url }, 'agent registered');
  return {
    async stop() {
      await registration.stop().catch((err) => log.warn({ err }, 'deregistration failed'));
      await worker.stop();
      await metricsServer?.close();
      await nc.drain().catch(() => undefined);
    },
  };
}

/** The gateway creates the streams and buckets; an agent started first waits for them. */
async function waitForTopology(jsm: JetStreamManager, hostname: string, log: Logger): Promise<void> {
  const streams = [jobsStreamOf(hostname), kvStreamName(RESULTS_BUCKET), kvStreamName(AGENTS_BUCKET)];
  for (let attempt = 1; ; attempt++) {
    const missing = [];
    for (const stream of streams) if (!(await jsm.streams.info(stream).then(() => true, () => false))) missing.push(stream);
    if (missing.length === 0) return;
    if (attempt % 20 === 1) log.warn({ missing }, 'waiting for the gateway to create the job streams');
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
