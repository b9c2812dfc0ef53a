import pino, { type Logger } from 'pino';

/** Structured JSON logs; callers add `job_id`, `hostname` and `target` through child loggers. */
export function createLogger(service: string, level = process.env.FLEET_LOG_LEVEL ?? 'info'): Logger {
  return pino({
    name: service,
    level,
    base: { service, pid: process.pid },
    // Defence in depth: even if a secret-bearing field reaches a log call it is not written.
    redact: {
      paths: ['authorization', 'headers.authorization', 'headers["x-api-key"]', 'headers["x-registry-auth"]', '*.password', 'secret'],
      censor: '[redacted]',
    },
  });
}

export type { Logger };
