import { runDaemon } from '@fleet/runtime/daemon';
import { createLogger } from '@fleet/runtime/logger';
import { startAgent } from './agent';
import { loadAgentConfig } from './config';
import { createDockerClient } from './engine';

runDaemon('fleet-agent', async () => {
  const config = loadAgentConfig();
  const log = createLogger('fleet-agent', config.logLevel).child({ hostname: config.hostname });
  const agent = await startAgent(config, createDockerClient(config.dockerHost), log);
  log.info({ docker_host: config.dockerHost }, 'agent running');
  return { log, stop: () => agent.stop() };
});
