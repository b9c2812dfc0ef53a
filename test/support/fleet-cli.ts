import { REPO_ROOT } from '@fleet/deploy';
import { runProcess, type ProcessResult } from './proc';

/**
 * `fleet <args>` run from its source, with `env` over this process's environment; never rejects on a
 * non-zero exit. Asynchronous: a blocked event loop would let the gateway close the SDK's idle keep-alive sockets.
 */
export function fleetCliFromSource(args: string[], env: NodeJS.ProcessEnv): Promise<ProcessResult> {
  return runProcess(process.execPath, ['--import', 'tsx', 'apps/cli/src/main.ts', ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    timeoutMs: 110_000,
    onTimeout: 'reject',
  });
}
