import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import type Docker from 'dockerode';
import { agentInboxPrefix } from '@fleet/contracts/nats-permissions';
import { AGENTS_BUCKET, JOBS_STREAM, RESULTS_BUCKET } from '@fleet/contracts/protocol';
import type { Logger } from '@fleet/runtime/logger';
import { connectNats } from '@fleet/runtime/nats';
import { version as agentVersion } from '../package.json';
import type { AgentConfig } from './config';
import { EXECUTORS } from './executors';
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
  const jsm = await jetstreamManager(nc);
  await waitForTopology(jsm, log);
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
    log,
  });
  // Consume before registering: once listed, a host must already receive its jobs.
  await worker.start();
  const identity = { hostname: config.hostname, labels: config.labels, agentVersion };
  const registration = new Registration(await kvm.open(AGENTS_BUCKET), docker, identity, config.heartbeatMs, log);
  await registration.start();
  log.info({ labels: config.labels }, 'agent registered');
  return {
    async stop() {
      await registration.stop().catch((err) => log.warn({ err }, 'deregistration failed'));
      await worker.stop();
      await nc.drain().catch(() => undefined);
    },
  };
}

/** The gateway creates the streams and buckets; an agent started first waits for them. */
async function waitForTopology(jsm: JetStreamManager, log: Logger): Promise<void> {
  const streams = [JOBS_STREAM, `KV_${RESULTS_BUCKET}`, `KV_${AGENTS_BUCKET}`];
  for (let attempt = 1; ; attempt++) {
    const missing = [];
    for (const stream of streams) if (!(await jsm.streams.info(stream).then(() => true, () => false))) missing.push(stream);
    if (missing.length === 0) return;
    if (attempt % 20 === 1) log.warn({ missing }, 'waiting for the gateway to create the job streams');
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
