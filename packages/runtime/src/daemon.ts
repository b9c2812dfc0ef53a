import type { Logger } from 'pino';
import { ConfigError, EX_CONFIG } from './config';

export interface Daemon {
  log: Logger;
  /** Runs on SIGTERM or SIGINT, before the process exits 0. */
  stop(signal: string): Promise<void>;
}

/**
 * Runs a long-lived process (gateway, agent) the same way: start it, stop it
 * cleanly on SIGTERM/SIGINT, and end it with a readable reason when it cannot
 * start or hits an error nothing handled.
 */
export function runDaemon(name: string, start: () => Promise<Daemon>): void {
  start()
    .then((daemon) => {
      // An error nothing handled leaves the process in an unknown state: say what it was, in the
      // structured log, and exit so the supervisor (systemd: Restart=on-failure) starts afresh.
      process.on('unhandledRejection', (err) => fail(daemon.log, 'unhandled rejection', err));
      process.on('uncaughtException', (err) => fail(daemon.log, 'uncaught exception', err));
      const shutdown = async (signal: string) => {
        daemon.log.info({ signal }, `${name} shutting down`);
        await daemon.stop(signal);
        process.exit(0);
      };
      process.once('SIGTERM', () => void shutdown('SIGTERM'));
      process.once('SIGINT', () => void shutdown('SIGINT'));
    })
    .catch((err: unknown) => {
      // Configuration and start-up failures end the process with a readable reason.
      process.stderr.write(`${name}: ${err instanceof Error ? err.message : String(err)}\n`);
      // EX_CONFIG for a bad setting: restarting will not fix it (the systemd units do not retry it).
      process.exit(err instanceof ConfigError ? EX_CONFIG : 1);
    });
}

function fail(log: Logger, what: string, err: unknown): void {
  log.fatal({ err }, what);
  process.exit(1);
}
