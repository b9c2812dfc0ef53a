import pino from 'pino';
import { runDaemon } from '@fleet/runtime/daemon';
import { createLogger } from '@fleet/runtime/logger';
import { loadGatewayConfig } from './config';
import { startGateway } from './gateway';

runDaemon('fleet-gateway', async () => {
  const config = loadGatewayConfig();
  // Written synchronously, on this thread: pino's default stdout hands every line to a libuv
  // worker thread (an asynchronous fs.write), one cross-thread handoff per call's log line.
  const log = createLogger('fleet-gateway', config.logLevel, pino.destination({ fd: 1, sync: true }));
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
