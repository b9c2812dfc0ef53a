import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { AGENTS_BUCKET, JOBS_STREAM, RESULTS_BUCKET } from '@fleet/contracts/protocol';
import { createLogger, type Logger } from '@fleet/runtime/logger';
import { connectNats } from '@fleet/runtime/nats';
import { version as agentVersion } from '../package.json';
import { loadAgentConfig } from './config';
import { createDockerClient } from './engine';
import { EXECUTORS } from './executors';
import { Registration } from './registration';
import { JobWorker } from './worker';

async function main(): Promise<void> {
  const config = loadAgentConfig();
  const log = createLogger('fleet-agent').child({ hostname: config.hostname });
  const nc = await connectNats({ servers: config.natsUrl, name: `fleet-agent-${config.hostname}`, user: config.natsUser, pass: config.natsPass }, log);
  const docker = createDockerClient(config.dockerHost);
  const jsm = await jetstreamManager(nc);
  await waitForTopology(jsm, log);
  const kvm = new Kvm(nc);
  const results = await kvm.open(RESULTS_BUCKET);
  const agents = await kvm.open(AGENTS_BUCKET);
  const worker = new JobWorker({
    nc,
    js: jetstream(nc),
    jsm,
    results,
    docker,
    hostname: config.hostname,
    executors: EXECUTORS,
    concurrency: config.concurrency,
    log,
  });
  // Consume before registering: once listed, a host must already receive its jobs.
  await worker.start();
  const registration = new Registration(agents, docker, { hostname: config.hostname, labels: config.labels, agentVersion }, config.heartbeatMs, log);
  await registration.start();
  log.info({ labels: config.labels, docker_host: config.dockerHost }, 'agent registered');

  const shutdown = async (signal: string) => {
    log.info({ signal }, 'agent shutting down');
    await registration.stop().catch((err) => log.warn({ err }, 'deregistration failed'));
    await worker.stop();
    await nc.drain().catch(() => undefined);
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
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

main().catch((err) => {
  process.stderr.write(`fleet-agent: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
