import { jetstream } from '@nats-io/jetstream';
import { createLogger } from '@fleet/runtime/logger';
import { connectNats } from '@fleet/runtime/nats';
import { AgentRegistry } from './agents/registry';
import { createApp } from './app';
import { loadGatewayConfig } from './config';
import { JobClient } from './jobs/client';
import { ResultFeed } from './jobs/feed';
import { SecretVault } from './jobs/secrets';
import { JobStore } from './jobs/store';
import { ensureTopology } from './nats/topology';
import { TargetResolver } from './targets/resolve';

async function main(): Promise<void> {
  const log = createLogger('fleet-gateway');
  const config = loadGatewayConfig();
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
  const app = createApp({ jwtSecret: config.jwtSecret, bodyLimit: config.bodyLimit, jobs, store, registry, log });
  const server = app.listen(config.port, config.host, () => {
    log.info({ url: `http://${config.host}:${config.port}` }, 'gateway listening');
  });
  // A call may legitimately run up to its 300 s deadline (or long-poll as long); node's default cut-off is 300 s.
  server.requestTimeout = 330_000;

  const shutdown = async (signal: string) => {
    log.info({ signal }, 'gateway shutting down');
    server.close();
    registry.stop();
    feed.stop();
    vault.stop();
    await nc.drain().catch(() => undefined);
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((err) => {
  // Configuration and start-up failures end the process with a readable reason.
  process.stderr.write(`fleet-gateway: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
