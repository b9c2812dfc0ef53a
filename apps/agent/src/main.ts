import { createLogger } from '@fleet/runtime/logger';
import { startAgent } from './agent';
import { loadAgentConfig } from './config';
import { createDockerClient } from './engine';

async function main(): Promise<void> {
  const config = loadAgentConfig();
  const log = createLogger('fleet-agent').child({ hostname: config.hostname });
  const agent = await startAgent(config, createDockerClient(config.dockerHost), log);
  log.info({ docker_host: config.dockerHost }, 'agent running');
  const shutdown = async (signal: string) => {
    log.info({ signal }, 'agent shutting down');
    await agent.stop();
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((err) => {
  process.stderr.write(`fleet-agent: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
