/**
 * The Engine API proxy's endpoint map (`x-engine-proxy` in openapi.yaml, README "The docker CLI
 * through the gateway"): which Engine endpoints `/node/{hostname}/docker/…` reaches, the permission
 * each needs, how its bytes travel and which host-access check applies. Read from the contract, so
 * the gateway (which refuses what is not mapped) and the agent (which checks again) share one list.
 */
import { CONTRACT } from './operations';
import { containerCreateHostAccess, volumeCreateHostAccess, type HostAccess } from './host-access';
import { PERMISSIONS, type Permission } from './permissions';

/** `plain`: one answer; `stream`: an answer that may stay open (a long-running slot); `hijack`: 101 then bytes both ways. */
export type EngineEndpointKind = 'plain' | 'stream' | 'hijack';
export type EngineHostAccessCheck = 'container-create' | 'volume-create' | 'image-create';

export interface EngineEndpoint {
  method: string;
  /** The Engine path pattern as the contract writes it, e.g. `/containers/{id}/logs`. */
  path: string;
  permission: Permission;
  kind: EngineEndpointKind;
  hostAccess?: EngineHostAccessCheck;
  /** A credential header passed to the engine, never stored or logged. */
  secretHeader?: string;
}

interface ProxySection {
  path: string;
  endpoints: Array<Record<string, unknown>>;
}

const KINDS: readonly EngineEndpointKind[] = ['plain', 'stream', 'hijack'];
const HOST_ACCESS_CHECKS: readonly EngineHostAccessCheck[] = ['container-create', 'volume-create', 'image-create'];

/** The gateway path the proxy is mounted on, as the contract writes it. */
export const ENGINE_PROXY_PATH = (CONTRACT['x-engine-proxy'] as ProxySection).path;

export const ENGINE_ENDPOINTS: readonly EngineEndpoint[] = (CONTRACT['x-engine-proxy'] as ProxySection).endpoints.map(toEndpoint);

function toEndpoint(raw: Record<string, unknown>): EngineEndpoint {
  const where = `x-engine-proxy ${String(raw.method)} ${String(raw.path)}`;
  if (!PERMISSIONS.includes(raw.permission as Permission)) throw new Error(`contract: ${where} has unknown permission '${String(raw.permission)}'`);
  if (!KINDS.includes(raw.kind as EngineEndpointKind)) throw new Error(`contract: ${where} has unknown kind '${String(raw.kind)}'`);
  const hostAccess = raw['host-access'];
  if (hostAccess !== undefined && !HOST_ACCESS_CHECKS.includes(hostAccess as EngineHostAccessCheck)) {
    throw new Error(`contract: ${where} has unknown host-access '${String(hostAccess)}'`);
  }
  return {
    method: String(raw.method),
    path: String(raw.path),
    permission: raw.permission as Permission,
    kind: raw.kind as EngineEndpointKind,
    ...(hostAccess === undefined ? {} : { hostAccess: hostAccess as EngineHostAccessCheck }),
    ...(raw['secret-header'] === undefined ? {} : { secretHeader: String(raw['secret-header']) }),
  };
}

/** The version prefix the Engine API accepts in front of every path (`/v1.41/containers/json`). */
const VERSION_PREFIX = /^\/v\d+(?:\.\d+)?(?=\/)/;

/** `{id}` is one segment, `{name+}` one or more (an image reference holds slashes). */
function patternOf(path: string): RegExp {
  const source = path
    .split('/')
    .map((segment) => (/^\{\w+\+\}$/.test(segment) ? '[^/]+(?:/[^/]+)*' : /^\{\w+\}$/.test(segment) ? '[^/]+' : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  return new RegExp(`^${source}$`);
}

const MATCHERS = ENGINE_ENDPOINTS.map((endpoint) => ({ endpoint, pattern: patternOf(endpoint.path) }));

/**
 * The mapped endpoint an Engine request reaches, or undefined (then it must not be forwarded).
 * `enginePath` is the path below `/node/{hostname}/docker`, without its query, as sent (percent-encoded).
 * It is judged decoded, as the engine's router reads it; an encoded slash, a `.` or `..` segment
 * or an empty one matches nothing, so the endpoint judged here is the one the engine runs.
 */
export function matchEngineEndpoint(method: string, enginePath: string): EngineEndpoint | undefined {
  if (/%2f/i.test(enginePath)) return undefined;
  let decoded: string;
  try {
    decoded = decodeURIComponent(enginePath);
  } catch {
    return undefined;
  }
  const unversioned = decoded.replace(VERSION_PREFIX, '');
  if (unversioned.split('/').slice(1).some((segment) => segment === '' || segment === '.' || segment === '..')) return undefined;
  const upper = method.toUpperCase();
  return MATCHERS.find(({ endpoint, pattern }) => endpoint.method === upper && pattern.test(unversioned))?.endpoint;
}

/**
 * Every way one proxied request reaches the host (empty for most): the create bodies of
 * host-access.ts, and an image import whose `fromSrc` is a URL (the engine fetches it from the
 * host's network). `body` is the parsed JSON body, or undefined when there is none.
 */
export function engineRequestHostAccess(endpoint: EngineEndpoint, query: URLSearchParams, body: unknown): HostAccess[] {
  const record = typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
  switch (endpoint.hostAccess) {
    case 'container-create':
      return containerCreateHostAccess(record);
    case 'volume-create':
      return volumeCreateHostAccess(record);
    case 'image-create': {
      // Every value counts: which of several the engine's form parser takes is not this module's to guess.
      const urls = query.getAll('fromSrc').filter((source) => source !== '-');
      return urls.map((source) => ({ reason: `an image import the engine fetches from '${source}' over the host's network` }));
    }
    default:
      return [];
  }
}

/**
 * What a proxied request's host-access grant (host-grant.ts) signs, built the same on both sides:
 * its operation is the endpoint (`engine POST /containers/create`), its parameters the Engine path
 * with its query and the parsed body; its `job_id` is the session.
 */
export function proxyGrantOperation(endpoint: EngineEndpoint): string {
  return `engine ${endpoint.method} ${endpoint.path}`;
}

export function proxyGrantParams(path: string, body: unknown): Record<string, unknown> {
  return { path, body: body ?? null };
}

/** Whether the endpoint's body must be read whole (to judge host access) before it is forwarded. */
export function needsWholeBody(endpoint: EngineEndpoint): boolean {
  return endpoint.hostAccess === 'container-create' || endpoint.hostAccess === 'volume-create';
}

/** The endpoint a request matched, with the values of its path's `{name}` segments (decoded) and its version prefix. */
export interface EngineCall {
  endpoint: EngineEndpoint;
  params: Record<string, string>;
}

/**
 * `matchEngineEndpoint`'s endpoint together with its parameters (`{id}`, `{name+}`, and `version` when the
 * path has a version prefix), or undefined when the request matches no endpoint. The audit records these
 * instead of the raw path.
 */
export function matchEngineCall(method: string, enginePath: string): EngineCall | undefined {
  const endpoint = matchEngineEndpoint(method, enginePath);
  if (!endpoint) return undefined;
  const decoded = decodeURIComponent(enginePath);
  const version = VERSION_PREFIX.exec(decoded)?.[0];
  const values = namedPatternOf(endpoint.path).exec(decoded.slice(version?.length ?? 0))?.groups ?? {};
  // `v000001.41` is the engine's `v1.41`: recorded as such, never as the zeros sent.
  const canonicalVersion = version?.slice(2).replace(/(^|\.)0+(?=\d)/g, '$1');
  return { endpoint, params: { ...(canonicalVersion ? { version: canonicalVersion } : {}), ...values } };
}

function namedPatternOf(path: string): RegExp {
  const source = path
    .split('/')
    .map((segment) => {
      const name = /^\{(\w+)(\+?)\}$/.exec(segment);
      if (!name) return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      return name[2] ? `(?<${name[1]}>[^/]+(?:/[^/]+)*)` : `(?<${name[1]}>[^/]+)`;
    })
    .join('/');
  return new RegExp(`^${source}$`);
}
