import type { Request, RequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import type { EngineCall } from '@fleet/contracts/engine-proxy';
import { OPERATIONS, type OperationSpec } from '@fleet/contracts/operations';
import type { AuditEntry, AuditLog } from '../audit/log';
import { callerOf } from '../auth/middleware';
import { refusalOf } from './error-answer';

/** Longest path an audit entry or log line keeps (README "Limits"); the rest is cut and marked. */
export const AUDITED_PATH_MAX_CHARS = 512;
/** Longest value of one path parameter an audit entry keeps. */
export const AUDITED_PARAM_MAX_CHARS = 256;

/** What the audit knows of a call once it matched something: the contract's name for it and its path parameters. */
interface Matched {
  operation: string;
  params: Record<string, string>;
  /** Whether the operation changes something (x-mutating; for the Engine API proxy, an endpoint needing more than docker:read). */
  mutating: boolean;
  /** For the Engine API proxy: the endpoint with its parameters, instead of the path as sent. */
  path?: string;
}

/** The status of a call whose client hung up before it was answered (the job it started may still run). */
const CLIENT_LEFT_STATUS = 499;

/**
 * One structured log line per request and, for every authenticated or refused
 * (401/403) request, one audit entry. Both say who, what and how it ended —
 * never the key, a header or a body. Written when the answer is sent or, if
 * the client hangs up first, when it does: hanging up hides no call.
 */
export function logAndAuditRequests(log: Logger, audit: AuditLog): RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    let settled = false;
    const settle = () => {
      if (settled) return;
      settled = true;
      const matched = matchedCall(req, res);
      const entry = describe(req, res, matched, Number(process.hrtime.bigint() - started) / 1e6);
      // A proxied Engine call's log line names its host and tunnel session (routes/engine-proxy.ts).
      log.info({ ...entry, time: undefined, ...(res.locals.proxySession as object | undefined) }, 'request');
      if (entry.caller || entry.status === 401 || entry.status === 403) audit.record(entry, changedNothing(res, matched));
    };
    res.once('finish', settle).once('close', settle);
    next();
  };
}

/**
 * A read, or a call the gateway itself refused (its error handler answered) before anything left it
 * (no job, no proxy session): such calls may be summarised. Anything else — a client that hung up
 * included — may have changed something and is always written in full.
 */
function changedNothing(res: Response, matched: Matched | undefined): boolean {
  if (matched && !matched.mutating) return true;
  return refusalOf(res) !== undefined && res.locals.jobId === undefined && res.locals.proxySession === undefined;
}

function describe(req: Request, res: Response, matched: Matched | undefined, durationMs: number): AuditEntry {
  const caller = res.locals.caller ? callerOf(res) : undefined;
  const path = pathOf(req);
  const answered = res.headersSent;
  const reason = answered ? refusalOf(res) : 'the client closed the connection before the answer';
  return {
    kind: 'call',
    time: new Date().toISOString(),
    caller: caller?.sub ?? null,
    role: caller?.role ?? null,
    key_id: caller?.jti ?? null,
    method: req.method,
    path: cut(matched?.path ?? path, AUDITED_PATH_MAX_CHARS),
    ...(matched ? { operation: matched.operation, params: matched.params } : {}),
    ...(reason === undefined ? {} : { reason: cut(reason, AUDITED_PATH_MAX_CHARS) }),
    target: targetOf(path),
    job_id: (res.locals.jobId as string | undefined) ?? null,
    status: answered ? res.statusCode : CLIENT_LEFT_STATUS,
    duration_ms: Math.round(durationMs * 100) / 100,
  };
}

function matchedCall(req: Request, res: Response): Matched | undefined {
  const engineCall = res.locals.engineCall as EngineCall | undefined;
  if (engineCall) return matchedEngineCall(engineCall, targetOf(pathOf(req)) ?? '');
  if (!req.route) return undefined;
  const template = `${req.baseUrl}${String(req.route.path)}`;
  const spec = OPERATION_BY_ROUTE.get(routeKey(req.method, template));
  if (!spec) return undefined;
  return { operation: spec.name, params: pathParams(template, pathOf(req)), mutating: spec.mutating };
}

/**
 * The endpoint the proxy judged (routes/engine-proxy.ts), written back as a path from its parameters: a padded or odd path shows as what
 * the engine runs.
 */
function matchedEngineCall({ endpoint, params }: EngineCall, hostname: string): Matched {
  const capped = capValues({ hostname, ...params });
  const enginePath = endpoint.path.replace(/\{(\w+)\+?\}/g, (_whole, name: string) => capped[name] ?? '');
  return {
    operation: `${endpoint.method} ${endpoint.path}`,
    params: capped,
    mutating: endpoint.permission !== 'docker:read',
    path: `/node/${hostname}/docker${capped.version === undefined ? '' : `/v${capped.version}`}${enginePath}`,
  };
}

/**
 * Every operation of the contract under its method and route template, parameter names left out (express' `:id` is the contract's
 * `{id}`).
 */
const OPERATION_BY_ROUTE = new Map<string, OperationSpec>(OPERATIONS.map((spec) => [routeKey(spec.method, spec.path), spec]));

function routeKey(method: string, template: string): string {
  return `${method.toUpperCase()} ${template.replace(/:\w+|\{\w+\}/g, '{}')}`;
}

/** The values of the template's `:name` segments, read from the path as sent (each is one segment). */
function pathParams(template: string, path: string): Record<string, string> {
  const names = template.split('/');
  const values = path.split('/');
  const params: Record<string, string> = {};
  names.forEach((segment, index) => {
    if (segment.startsWith(':') && values[index] !== undefined) params[segment.slice(1)] = decoded(values[index]);
  });
  return capValues(params);
}

function capValues(params: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(params).map(([name, value]) => [name, cut(value, AUDITED_PARAM_MAX_CHARS)]));
}

/** The path as the client sent it: a router mounted on a prefix (the Engine API proxy) has cut `req.path`. */
function pathOf(req: Request): string {
  return req.originalUrl.split('?')[0];
}

function targetOf(path: string): string | null {
  const match = /^\/node\/([^/]+)\//.exec(path);
  return match ? cut(decoded(match[1]), AUDITED_PATH_MAX_CHARS) : null;
}

function decoded(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** A path of 8 KB must not cost 8 KB of audit trail per request. */
function cut(text: string, max: number): string {
  if (text.length <= max) return text;
  const marker = `…(${text.length} chars)`;
  return `${text.slice(0, max - marker.length)}${marker}`;
}
