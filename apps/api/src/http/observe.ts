import type { Request, RequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import type { AuditEntry, AuditLog } from '../audit/log';
import { callerOf } from '../auth/middleware';

/** Longest path an audit entry or log line keeps (README "Limits"); the rest is cut and marked. */
export const AUDITED_PATH_MAX_CHARS = 512;

/**
 * One structured log line per request and, for every authenticated or refused
 * (401/403) request, one audit entry. Both say who, what and how it ended —
 * never the key, a header or a body.
 */
export function logAndAuditRequests(log: Logger, audit: AuditLog): RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const entry = describe(req, res, Number(process.hrtime.bigint() - started) / 1e6);
      // A proxied Engine call's log line names its host and tunnel session (routes/engine-proxy.ts).
      log.info({ ...entry, time: undefined, ...(res.locals.proxySession as object | undefined) }, 'request');
      if (entry.caller || res.statusCode === 401 || res.statusCode === 403) audit.record(entry);
    });
    next();
  };
}

function describe(req: Request, res: Response, durationMs: number): AuditEntry {
  const caller = res.locals.caller ? callerOf(res) : undefined;
  const path = pathOf(req);
  return {
    time: new Date().toISOString(),
    caller: caller?.sub ?? null,
    role: caller?.role ?? null,
    key_id: caller?.jti ?? null,
    method: req.method,
    path: truncate(path),
    target: targetOf(path),
    job_id: (res.locals.jobId as string | undefined) ?? null,
    status: res.statusCode,
    duration_ms: Math.round(durationMs * 100) / 100,
  };
}

/** The path as the client sent it: a router mounted on a prefix (the Engine API proxy) has cut `req.path`. */
function pathOf(req: Request): string {
  return req.originalUrl.split('?')[0];
}

function targetOf(path: string): string | null {
  const match = /^\/node\/([^/]+)\//.exec(path);
  if (!match) return null;
  try {
    return truncate(decodeURIComponent(match[1]));
  } catch {
    return truncate(match[1]);
  }
}

/** A path of 8 KB must not cost 8 KB of audit trail per request. */
function truncate(text: string): string {
  if (text.length <= AUDITED_PATH_MAX_CHARS) return text;
  const marker = `…(${text.length} chars)`;
  return `${text.slice(0, AUDITED_PATH_MAX_CHARS - marker.length)}${marker}`;
}
