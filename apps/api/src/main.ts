import { createLogger } from '@fleet/runtime/logger';
import { loadGatewayConfig } from './config';
import { startGateway } from './gateway';

async function main(): Promise<void> {
  const log = createLogger('fleet-gateway');
  const gateway = await startGateway(loadGatewayConfig(), log);
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
  process.exit(1);
});
