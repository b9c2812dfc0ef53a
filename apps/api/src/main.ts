import { runDaemon } from '@fleet/runtime/daemon';
import { createLogger } from '@fleet/runtime/logger';
import { loadGatewayConfig } from './config';
import { startGateway } from './gateway';

runDaemon('fleet-gateway', async () => {
  const config = loadGatewayConfig();
  const log = createLogger('fleet-gateway', config.logLevel);
  const gateway = await startGateway(config, log);
  return {
    log,
    stop: async () => {
      // Open calls are cut rather than awaited: their jobs live on in JetStream and GET /job/:id still answers.
      gateway.server.closeAllConnections();
      await gateway.stop();
    },
  };
});
