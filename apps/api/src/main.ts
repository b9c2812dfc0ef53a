import { ConfigError, EX_CONFIG } from '@fleet/runtime/config';
import { createLogger } from '@fleet/runtime/logger';
import { loadGatewayConfig } from './config';
import { startGateway } from './gateway';

async function main(): Promise<void> {
  const config = loadGatewayConfig();
  const log = createLogger('fleet-gateway', config.logLevel);
  const gateway = await startGateway(config, log);
  const shutdown = async (signal: string) => {
    log.info({ signal }, 'gateway shutting down');
    // Open calls are cut rather than awaited: their jobs live on in JetStream and GET /job/:id still answers.
    gateway.server.closeAllConnections();
    await gateway.stop();
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((err) => {
  // Configuration and start-up failures end the process with a readable reason.
  process.stderr.write(`fleet-gateway: ${err instanceof Error ? err.message : String(err)}\n`);
  // EX_CONFIG for a bad setting: restarting will not fix it (the systemd units do not retry it).
  process.exit(err instanceof ConfigError ? EX_CONFIG : 1);
});
