import { ConfigError, EX_CONFIG } from '@fleet/runtime/config';
import { createLogger } from '@fleet/runtime/logger';
import { startAgent } from './agent';
import { loadAgentConfig } from './config';
import { createDockerClient } from './engine';

async function main(): Promise<void> {
  const config = loadAgentConfig();
  const log = createLogger('fleet-agent', config.logLevel).child({ hostname: config.hostname });
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
  // EX_CONFIG for a bad setting: restarting will not fix it (the systemd units do not retry it).
  process.exit(err instanceof ConfigError ? EX_CONFIG : 1);
});
