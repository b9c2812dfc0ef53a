import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { jetstream } from '@nats-io/jetstream';
import type { Logger } from '@fleet/runtime/logger';
import { connectNats } from '@fleet/runtime/nats';
import { AgentRegistry } from './agents/registry';
import { AuditLog } from './audit/log';
import { Revocations } from './auth/revocations';
import { createApp } from './app';
import type { GatewayConfig } from './config';
import { JobClient } from './jobs/client';
import { ResultFeed } from './jobs/feed';
import { SecretVault } from './jobs/secrets';
import { JobStore } from './jobs/store';
import { ensureTopology } from './nats/topology';
import { TargetResolver } from './targets/resolve';

export interface RunningGateway {
  url: string;
  server: Server;
  stop(): Promise<void>;
}

/** Connects to NATS, adopts the topology, follows the registry and serves HTTP. */
export async function startGateway(config: GatewayConfig, log: Logger): Promise<RunningGateway> {
  const nc = await connectNats({ servers: config.natsUrl, name: 'fleet-gateway', user: config.natsUser, pass: config.natsPass }, log);
  const topology = await ensureTopology(nc, config);
  const registry = new AgentRegistry(topology.agents, topology.drains, config.agentTtlMs);
  await registry.start(nc);
  const feed = new ResultFeed();
  feed.start(nc);
  const vault = new SecretVault();
  vault.start(nc);
  const store = new JobStore(jetstream(nc), topology.jsm, topology.results);
  const jobs = new JobClient({ nc, store, feed, resolver: new TargetResolver(registry), vault, log });
  const revocations = new Revocations(topology.revoked);
  await revocations.start(nc);
  const audit = new AuditLog(jetstream(nc), topology.jsm, log);
  const app = createApp({
    jwtSecret: config.jwtSecret,
    bodyLimit: config.bodyLimit,
    rateLimitPerMinute: config.rateLimitPerMinute,
    jobs,
    store,
    registry,
    audit,
    revocations,
    log,
  });
  const server = await new Promise<Server>((resolve, reject) => {
    const listening = app.listen(config.port, config.host, () => resolve(listening)).once('error', reject);
  });
  // A call may legitimately run up to its 300 s deadline (or long-poll as long); node's default cut-off is 300 s.
  server.requestTimeout = 330_000;
  const url = `http://${config.host}:${(server.address() as AddressInfo).port}`;
  log.info({ url }, 'gateway listening');
  return {
    url,
    server,
    async stop() {
      await new Promise((resolve) => server.close(resolve));
      registry.stop();
      feed.stop();
      vault.stop();
      revocations.stop();
      await nc.drain().catch(() => undefined);
    },
  };
}
