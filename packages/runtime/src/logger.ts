import { credentialHeaders } from '@fleet/contracts/credentials';
import pino, { type DestinationStream, type Logger, type LoggerOptions } from 'pino';

/** Where a credential could sit in a log call's fields: a request's headers (the contract names them), or a bare secret. */
const REDACTED_PATHS = ['authorization', ...credentialHeaders().map((header) => `headers["${header}"]`), '*.password', 'secret'];

/**
 * Structured JSON logs to stdout (or `destination`); callers add `job_id`, `hostname` and `target` through child loggers.
 * Stdout is written synchronously, on the caller's thread: pino's default stream hands every line to a libuv worker
 * thread (an asynchronous fs.write when stdout is a file), one cross-thread handoff per line — per call in the
 * gateway, per job in an agent. Node writes stdout synchronously to pipes and files on Linux anyway.
 */
export function createLogger(
  service: string,
  level = process.env.FLEET_LOG_LEVEL ?? 'info',
  destination: DestinationStream = pino.destination({ fd: 1, sync: true }),
): Logger {
  const options: LoggerOptions = {
    name: service,
    level,
    base: { service, pid: process.pid },
    // Defence in depth: even if a secret-bearing field reaches a log call it is not written.
    redact: {
      paths: REDACTED_PATHS,
      censor: '[redacted]',
    },
  };
  return pino(options, destination);
}

export type { Logger };
