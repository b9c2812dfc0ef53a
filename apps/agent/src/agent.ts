import { createPublicKey } from 'node:crypto';
import path from 'node:path';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import type Docker from 'dockerode';
import { AGENT_JETSTREAM_API_PREFIX, agentInboxPrefix } from '@fleet/contracts/nats-permissions';
import { AGENTS_BUCKET, RESULTS_BUCKET } from '@fleet/contracts/protocol';
import type { Logger } from '@fleet/runtime/logger';
import { connectNats } from '@fleet/runtime/nats';
import { trackCertificateExpiry } from '@fleet/runtime/tls';
import { version as agentVersion } from '../package.json';
import type { AgentConfig } from './config';
import { EngineProxy } from './engine-proxy';
import { HostObjects } from './host-objects';
import { EXECUTORS } from './executors';
import { agentCreds } from './identity';
import { AgentMetrics, serveMetrics } from './metrics';
import { Registration } from './registration';
import { IdentityRotation, type AgentLogin } from './rotation';
import type { HostPolicy } from './host-policy';
import { HostStacks } from './stacks/host-stacks';
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
  const creds = await agentCreds(config, log);
  const hostPolicy = {
    grantKey: createPublicKey(config.hostGrantPublicKey),
    allowedPaths: config.hostPaths,
    access: { registries: config.registries },
  };
  const socketPath = config.dockerHost.replace(/^unix:\/\//, '');
  // One judge of host-level objects for jobs and proxied requests alike, on the engine they reach.
  const hostObjects = new HostObjects(socketPath, hostPolicy.access);
  // Stacks are kept next to the identity the agent made (its state directory), else in memory (README "Stacks on the agents").
  const stacks = new HostStacks({
    docker,
    dir: config.identity && path.join(config.identity.dir, 'stacks'),
    log: log.child({ component: 'stacks' }),
  });
  const open = (loginCreds: string | undefined) => openLogin(config, loginCreds, docker, { hostPolicy, hostObjects, stacks, metrics, log });
  const first = await open(creds);
  metrics.followNats(first.nc);
  const stopExpiryWatch = trackCertificateExpiry(metrics.collectors, 'fleet_agent_', log, {
    certificates: config.natsCaFile ? [{ use: 'nats-ca', file: config.natsCaFile }] : [],
    warningDays: config.tlsExpiryWarningDays,
  });
  const engineProxy = new EngineProxy({ nc: first.nc, hostname: config.hostname, socketPath, hostPolicy, hostObjects, log });
  engineProxy.start();
  const identity = { hostname: config.hostname, labels: config.labels, agentVersion, metricsUrl: metricsServer?.url };
  const registration = new Registration(first.agents, docker, identity, config.heartbeatMs, log, (healthy) => metrics.engine(healthy));
  registration.reportStacks(() => stacks.report());
  await stacks.start();
  if (await first.worker.hasConsumer()) {
    // An accepted host: consume before registering, so that once listed it already receives its jobs.
    await first.worker.start();
    await registration.start();
  } else {
    // A new host asks to be enrolled by registering (listed as pending, never targeted) and binds once accepted.
    await registration.start();
    await first.worker.start();
  }
  // Only an identity the agent made itself is its to rotate; creds given outright are the operator's.
  const rotation =
    config.identity && !config.natsCreds
      ? new IdentityRotation(first, {
          hostname: config.hostname,
          identityDir: config.identity.dir,
          maxAgeMs: config.identity.maxAgeSeconds === undefined ? undefined : config.identity.maxAgeSeconds * 1000,
          log,
          open,
          async adopt(login) {
            await engineProxy.moveTo(login.nc);
            registration.useBucket(login.agents);
            metrics.followNats(login.nc);
          },
        })
      : undefined;
  rotation?.start();
  const current = () => rotation?.current() ?? first;
  log.info({ requested_labels: config.labels, metrics_url: metricsServer?.url }, 'agent registered');
  return {
    async stop() {
      rotation?.stop();
      stacks.stop();
      await registration.stop().catch((err) => log.warn({ err }, 'deregistration failed'));
      engineProxy.stop();
      await current().worker.stop();
      stopExpiryWatch();
      await metricsServer?.close();
      await current()
        .nc.drain()
        .catch(() => undefined);
    },
  };
}

interface LoginDeps {
  hostPolicy: HostPolicy;
  hostObjects: HostObjects;
  stacks: HostStacks;
  metrics: AgentMetrics;
  log: Logger;
}

/** One NATS login and what runs on it: the job worker and the buckets it writes (a rotation makes a second). */
async function openLogin(config: AgentConfig, creds: string | undefined, docker: Docker, deps: LoginDeps): Promise<AgentLogin> {
  const { log, metrics } = deps;
  const nc = await connectNats(
    {
      servers: config.natsUrl,
      name: `fleet-agent-${config.hostname}`,
      creds,
      caFile: config.natsCaFile,
      inboxPrefix: agentInboxPrefix(config.hostname),
    },
    log,
  );
  // A login is an account of the agent's own, where the JetStream API it may use is imported under a
  // prefix of its own (README "What an agent's NATS login can and cannot do"); no login: a dev NATS of one account.
  const jetStreamOptions = { checkAPI: false, ...(creds ? { apiPrefix: AGENT_JETSTREAM_API_PREFIX } : {}) };
  // Plain KV writes (`$KV.<bucket>.<key>`), never through the API prefix.
  const kvm = new Kvm(nc);
  const worker = new JobWorker({
    nc,
    js: jetstream(nc, jetStreamOptions),
    jsm: await jetstreamManager(nc, jetStreamOptions),
    results: await kvm.open(RESULTS_BUCKET),
    docker,
    hostname: config.hostname,
    executors: EXECUTORS,
    concurrency: config.concurrency,
    longRunningConcurrency: config.longRunningConcurrency,
    maxOutputBytes: config.maxOutputBytes,
    hostPolicy: deps.hostPolicy,
    hostObjects: deps.hostObjects,
    stacks: deps.stacks,
    log,
    onExecuted: (job, row) => metrics.jobExecuted(job, row),
  });
  return { nc, worker, agents: await kvm.open(AGENTS_BUCKET) };
}
