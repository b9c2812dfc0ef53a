import { createPrivateKey, createPublicKey, randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { JOB_TIMEOUT_SECONDS, JOB_WAIT_MAX_SECONDS } from '@fleet/contracts/operations';
import { AGENTS_BUCKET, kvStreamName } from '@fleet/contracts/protocol';
import type { Logger } from '@fleet/runtime/logger';
import { trackNats, type NatsLink } from '@fleet/runtime/metrics';
import { connectNats } from '@fleet/runtime/nats';
import { keyPairOfSeed } from '@fleet/runtime/nats-identity';
import { trackCertificateExpiry } from '@fleet/runtime/tls';
import { BrokerOutage } from './agents/broker-outage';
import { AgentRoster } from './agents/roster';
import { MintedKeys } from './auth/minted-keys';
import { AuditBudget } from './audit/budget';
import { AuditCapacity } from './audit/capacity';
import { AuditLog } from './audit/log';
import { Revocations } from './auth/revocations';
import { createApp, upgradeHandler } from './app';
import type { EnrolmentSecrets, GatewayConfig } from './config';
import { JobClient } from './jobs/client';
import { JobCollector } from './jobs/collection';
import { KeySlots } from './jobs/key-slots';
import { Rollouts } from './jobs/rollout';
import { StackController } from './stacks/controller';
import { StackService } from './stacks/service';
import { StackStore } from './stacks/store';
import { LEASE_MS, RolloutLeases } from './jobs/rollout-lease';
import { EngineTunnel } from './proxy/tunnel';
import { ResultFeed } from './jobs/feed';
import { IdempotencyKeys } from './jobs/idempotency';
import { SecretVault } from './jobs/secrets';
import { JobStore } from './jobs/store';
import { WaitingRoom } from './jobs/waiting';
import { GatewayMetrics } from './metrics';
import { whenClusterFormed } from './nats/cluster-forming';
import { ensureTopology } from './nats/topology';
import { AgentIdentities, type EnrolmentKeys } from './agents/identity';
import { TargetResolver } from './targets/resolve';
import { openDownload } from './transfers/downloads';
import { UploadStore } from './transfers/uploads';
import { AgentBuilds } from './agents/builds';
import type { Readiness } from './routes/health';
import { createGatewayServer } from './transport';

/**
 * A call may legitimately run up to its longest deadline or long-poll (the contract's maximums), plus
 * the moments it takes to answer; node's default cut-off (300 s) would end such a call early.
 */
const REQUEST_TIMEOUT_MS = (Math.max(JOB_TIMEOUT_SECONDS.maximum, JOB_WAIT_MAX_SECONDS) + 30) * 1000;

export interface RunningGateway {
  url: string;
  server: Server;
  stop(): Promise<void>;
}

/** Connects to NATS, adopts the topology, follows the agents' heartbeats and serves HTTP. */
export async function startGateway(config: GatewayConfig, log: Logger): Promise<RunningGateway> {
  const nc = await connectNats({ servers: config.natsUrl, name: 'fleet-gateway', creds: config.natsCreds, caFile: config.natsCaFile }, log);
  const enrolment = config.enrolment ? await enrolmentKeys(config, config.enrolment, log) : undefined;
  const metrics = new GatewayMetrics();
  const natsLink = trackNats(nc, metrics.collectors, 'fleet_');
  const brokerOutage = new BrokerOutage(config.agentTtlMs);
  void brokerOutage.follow(nc);
  const topology = await whenClusterFormed(() => ensureTopology(nc, config), log);
  const roster = new AgentRoster(topology, topology.jsm, config.agentTtlMs, log.child({ component: 'roster' }));
  await roster.start(nc);
  metrics.followAgents(roster);
  const feed = new ResultFeed();
  feed.start(nc);
  const vault = new SecretVault();
  vault.start(nc);
  const store = new JobStore(jetstream(nc), topology.jsm, topology.results);
  const resolver = new TargetResolver(roster);
  const hostGrantKey = createPrivateKey(config.hostGrantPrivateKey);
  const longRunningSlots = new KeySlots(config.longRunningPerKey);
  const leases = new RolloutLeases(topology.rolloutLeases, randomUUID(), { leaseMs: LEASE_MS });
  const unfollowLeases = await leases.follow(nc);
  const tunnel = new EngineTunnel(nc, log);
  const uploads = new UploadStore(topology.uploads, topology.jsm, log, config.uploadMaxBytes);
  uploads.start(nc);
  const releaseKey = config.releasePublicKey ? createPublicKey(config.releasePublicKey) : undefined;
  const agentBuilds = new AgentBuilds(topology.agentBuilds, topology.jsm, releaseKey, log);
  agentBuilds.start(nc);
  // README "Jobs that wait for a host": the key that started a waiting job is checked again at each delivery.
  const waiting = new WaitingRoom({
    kv: topology.waiting,
    jsm: topology.jsm,
    js: jetstream(nc),
    store,
    roster,
    resolver,
    collector: new JobCollector({ nc, store, feed, log }),
    log,
    hostGrantKey,
    isRevoked: (keyId) => revocations.isRevoked(keyId),
    retentionSeconds: config.jobRetentionSeconds,
  });
  const jobs = new JobClient({
    nc,
    js: jetstream(nc),
    store,
    feed,
    resolver,
    vault,
    log,
    hostGrantKey,
    longRunningSlots,
    streamBufferBytes: config.streamBufferBytes,
    onSettled: (record, rows) => metrics.jobSettled(record, rows),
    leases,
    waiting,
    brokerDown: () => brokerOutage.refusesCalls(),
  });
  const identities = new AgentIdentities(topology.joinTokens, topology.identities, enrolment);
  identities.start(nc, log);
  const revocations = new Revocations(topology.revoked);
  await revocations.start(nc);
  await waiting.start(nc);
  // README "Rollouts": a rollout whose replica died is carried on by another.
  const rollouts = new Rollouts(jobs);
  const stopTakeovers = rollouts.takeOverAbandoned((keyId) => revocations.isRevoked(keyId));
  // README "Stacks": every replica keeps the stacks true; claims in the store keep two from sending the same apply.
  const stackStore = new StackStore(topology.stacks);
  const stopKeepingTrue = new StackController({ store: stackStore, jobs, roster, log }).start();
  const audit = new AuditLog(jetstream(nc), topology.jsm, log, {
    budget: new AuditBudget(config.auditFullReadsPerKey),
    windowMs: config.auditWindowSeconds * 1000,
    capacity: new AuditCapacity(topology.jsm, log, metrics.collectors),
  });
  audit.start();
  const app = createApp({
    jwtSecret: config.jwtSecret,
    bodyLimit: config.bodyLimit,
    rateLimitPerMinute: config.rateLimitPerMinute,
    maxKeyTtlSeconds: config.maxKeyTtlSeconds,
    metricsToken: config.metricsToken,
    metricsPublic: config.metricsPublic,
    preAuthRateLimitPerMinute: config.preAuthRateLimitPerMinute,
    jobs,
    transfers: { uploads, agentBuilds, openDownload: (jobId) => openDownload(nc, jobId) },
    store,
    idempotency: new IdempotencyKeys(topology.idempotency, store),
    feed,
    roster,
    identities,
    audit,
    revocations,
    mintedKeys: new MintedKeys(topology.mintedKeys),
    log,
    metrics,
    readiness: await readinessProbe(nc, natsLink),
    engineProxy: { tunnel, resolver, hostGrantKey, longRunningSlots },
    accessPolicy: { registries: config.registries },
    stacks: new StackService({
      store: stackStore,
      jobs,
      rollouts,
      roster,
      accessPolicy: { registries: config.registries },
      isRevoked: (jti) => revocations.isRevoked(jti),
    }),
  });
  const listener = await createGatewayServer(app, config.tls, log);
  const { server } = listener;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject).listen(config.port, config.host, () => resolve());
  });
  // Engine API hijacks (docker exec, attach) arrive as upgrades and go through the same app.
  server.on('upgrade', upgradeHandler(app));
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  const stopExpiryWatch = trackCertificateExpiry(metrics.collectors, 'fleet_', log, {
    certificates: [
      ...(config.tls ? [{ use: 'https', file: config.tls.certFile }] : []),
      ...(config.natsCaFile ? [{ use: 'nats-ca', file: config.natsCaFile }] : []),
    ],
    warningDays: config.tlsExpiryWarningDays,
  });
  const url = `${listener.scheme}://${urlHost(config.host)}:${(server.address() as AddressInfo).port}`;
  log.info({ url }, 'gateway listening');
  return {
    url,
    server,
    async stop() {
      tunnel.stop();
      stopTakeovers();
      waiting.stop();
      stopKeepingTrue();
      unfollowLeases();
      listener.stopReloading();
      stopExpiryWatch();
      await new Promise((resolve) => server.close(resolve));
      roster.stop();
      feed.stop();
      vault.stop();
      identities.stop();
      uploads.stop();
      agentBuilds.stop();
      revocations.stop();
      // The entries of the last calls, and the open window's summaries, are published before the connection goes.
      await audit.stop();
      await nc.drain().catch(() => undefined);
      await enrolment?.system.drain().catch(() => undefined);
    },
  };
}

/** The keys that enrol agents, and a login in the system account to push their accounts with. */
async function enrolmentKeys(config: GatewayConfig, secrets: EnrolmentSecrets, log: Logger): Promise<EnrolmentKeys> {
  return {
    accountSigner: keyPairOfSeed(secrets.accountSigner),
    gatewayAccount: keyPairOfSeed(secrets.accountSeed),
    userSigner: keyPairOfSeed(secrets.agentUserSigner),
    system: await connectNats(
      { servers: config.natsUrl, name: 'fleet-gateway-system', creds: secrets.systemCreds, caFile: config.natsCaFile },
      log,
    ),
  };
}

/** An IPv6 address goes in brackets in a URL. */
function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** Probes wait at most this long for the agents bucket to answer. */
const READINESS_TIMEOUT_MS = 2_000;

/** Ready: the NATS connection is up and the agents bucket answers over it (reported as `registry`, the contract's name). */
async function readinessProbe(nc: NatsConnection, link: NatsLink): Promise<() => Promise<Readiness>> {
  const jsm = await jetstreamManager(nc, { timeout: READINESS_TIMEOUT_MS });
  return async () => {
    // While disconnected a request would only wait out its timeout: report at once.
    if (!link.connected()) return { nats: 'disconnected', registry: 'unreachable: no NATS connection' };
    const agentsBucket = await jsm.streams.info(kvStreamName(AGENTS_BUCKET)).then(
      () => 'ok',
      (err: Error) => `unreachable: ${err.message}`,
    );
    return { nats: 'connected', registry: agentsBucket };
  };
}
