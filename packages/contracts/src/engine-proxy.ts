/**
 * The Engine API proxy's endpoint map (`x-engine-proxy` in openapi.yaml, README "The docker CLI
 * through the gateway"): which Engine endpoints `/node/{hostname}/docker/…` reaches, the permission
 * each needs, how its bytes travel, what body it takes and which host-access check applies. Read
 * from the contract, so the gateway (which refuses what is not mapped) and the agent (which checks
 * again) share one list; and the judgement of one request (README "Host-level access"): its body
 * decoded as the engine will, its query, its host access, and the bytes that may be forwarded.
 */
import { createHash } from 'node:crypto';
import { decodeEngineJson, EngineBodyError } from './engine-json';
import { ENGINE_MODELS, isEngineModelName, type EngineModelName } from './engine-models';
import { engineBodyHostAccess, registryAccess, registryOf, type AccessPolicy, type HostAccess } from './host-access';
import { CONTRACT } from './operations';
import { PERMISSIONS, type Permission } from './permissions';

/** `plain`: one answer; `stream`: an answer that may stay open (a long-running slot); `hijack`: 101 then bytes both ways. */
export type EngineEndpointKind = 'plain' | 'stream' | 'hijack';
/**
 * Checks of the query or path: `image-create` (fromImage's registry, a fromSrc URL), `image-registry` (the registry of the path's image).
 */
export type EngineHostAccessCheck = 'image-create' | 'image-registry';
/** What an endpoint's request body is: a JSON body of one of the Engine models, a tar streamed through, or nothing. */
export type EngineBodyKind = EngineModelName | 'tar';

export interface EngineEndpoint {
  method: string;
  /** The Engine path pattern as the contract writes it, e.g. `/containers/{id}/logs`. */
  path: string;
  permission: Permission;
  kind: EngineEndpointKind;
  hostAccess?: EngineHostAccessCheck;
  /** Absent: the endpoint takes no body. */
  body?: EngineBodyKind;
  /** A credential header passed to the engine, never stored or logged. */
  secretHeader?: string;
}

interface ProxySection {
  path: string;
  endpoints: Array<Record<string, unknown>>;
}

const KINDS: readonly EngineEndpointKind[] = ['plain', 'stream', 'hijack'];
const HOST_ACCESS_CHECKS: readonly EngineHostAccessCheck[] = ['image-create', 'image-registry'];

/** The gateway path the proxy is mounted on, as the contract writes it. */
export const ENGINE_PROXY_PATH = (CONTRACT['x-engine-proxy'] as ProxySection).path;

export const ENGINE_ENDPOINTS: readonly EngineEndpoint[] = (CONTRACT['x-engine-proxy'] as ProxySection).endpoints.map(toEndpoint);

function toEndpoint(raw: Record<string, unknown>): EngineEndpoint {
  const where = `x-engine-proxy ${String(raw.method)} ${String(raw.path)}`;
  if (!PERMISSIONS.includes(raw.permission as Permission))
    throw new Error(`contract: ${where} has unknown permission '${String(raw.permission)}'`);
  if (!KINDS.includes(raw.kind as EngineEndpointKind)) throw new Error(`contract: ${where} has unknown kind '${String(raw.kind)}'`);
  const hostAccess = raw['host-access'];
  if (hostAccess !== undefined && !HOST_ACCESS_CHECKS.includes(hostAccess as EngineHostAccessCheck)) {
    throw new Error(`contract: ${where} has unknown host-access '${String(hostAccess)}'`);
  }
  const body = raw.body;
  if (body !== undefined && body !== 'tar' && !isEngineModelName(body))
    throw new Error(`contract: ${where} has unknown body '${String(body)}'`);
  return {
    method: String(raw.method),
    path: String(raw.path),
    permission: raw.permission as Permission,
    kind: raw.kind as EngineEndpointKind,
    ...(hostAccess === undefined ? {} : { hostAccess: hostAccess as EngineHostAccessCheck }),
    ...(body === undefined ? {} : { body: body as EngineBodyKind }),
    ...(raw['secret-header'] === undefined ? {} : { secretHeader: String(raw['secret-header']) }),
  };
}

/** A first segment the engine's router reads as an API version (`/v{version:[0-9.]+}`). */
const VERSION_SEGMENT = /^\/v[0-9.]*(?=\/|$)/;
/** The one spelling of a version accepted: `/v1.41`, digits without leading zeros, so the audited path names the endpoint plainly. */
const CANONICAL_VERSION = /^\/v(?:0|[1-9][0-9]*)\.(?:0|[1-9][0-9]*)$/;

/** `{id}` is one segment, `{name+}` one or more (an image reference holds slashes). */
function patternOf(path: string): RegExp {
  const source = path
    .split('/')
    .map((segment) =>
      /^\{\w+\+\}$/.test(segment)
        ? '([^/]+(?:/[^/]+)*)'
        : /^\{\w+\}$/.test(segment)
          ? '[^/]+'
          : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'),
    )
    .join('/');
  return new RegExp(`^${source}$`);
}

const MATCHERS = ENGINE_ENDPOINTS.map((endpoint) => ({ endpoint, pattern: patternOf(endpoint.path) }));

/** A proxied request the gateway or agent will not forward: answered with `status` and the error envelope. */
export class EngineRequestRefusal extends Error {
  constructor(
    readonly status: 400 | 404 | 415,
    readonly error: string,
    readonly details: string,
  ) {
    super(`${error}: ${details}`);
  }
}

/** A request located in the endpoint map: its endpoint, its path below `/node/{hostname}/docker` (as sent) and its query. */
export interface LocatedEngineRequest {
  endpoint: EngineEndpoint;
  path: string;
  query: URLSearchParams;
  /** The `{name+}` of the path, decoded (an image reference), when the endpoint has one. */
  name?: string;
}

/**
 * The mapped endpoint an Engine request reaches (`url` is its path and query below
 * `/node/{hostname}/docker`, as sent, percent-encoded). The path is judged decoded, as the
 * engine's router reads it; an encoded slash, a `.`, `..` or empty segment matches nothing (404),
 * so the endpoint judged is the one the engine runs; a version prefix spelled any way but
 * `/v1.41` is 400.
 */
export function locateEngineRequest(method: string, url: string): LocatedEngineRequest {
  const queryAt = url.indexOf('?');
  const path = queryAt === -1 ? url : url.slice(0, queryAt);
  const query = new URLSearchParams(queryAt === -1 ? '' : url.slice(queryAt + 1));
  const notMapped = () =>
    new EngineRequestRefusal(404, 'not found', `${method} ${path} is not an Engine endpoint the gateway maps (contract x-engine-proxy)`);
  if (/%2f/i.test(path) || !path.startsWith('/')) throw notMapped();
  let decoded: string;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    throw notMapped();
  }
  const version = VERSION_SEGMENT.exec(decoded)?.[0];
  if (version !== undefined && !CANONICAL_VERSION.test(version)) {
    throw new EngineRequestRefusal(
      400,
      'invalid request',
      `'${version}' is not an API version prefix as the gateway accepts it: /v<major>.<minor> without leading zeros, e.g. /v1.41`,
    );
  }
  const unversioned = version === undefined ? decoded : decoded.slice(version.length);
  if (
    unversioned
      .split('/')
      .slice(1)
      .some((segment) => segment === '' || segment === '.' || segment === '..')
  )
    throw notMapped();
  const upper = method.toUpperCase();
  for (const { endpoint, pattern } of MATCHERS) {
    const match = endpoint.method === upper ? pattern.exec(unversioned) : null;
    if (match) return { endpoint, path, query, ...(match[1] === undefined ? {} : { name: match[1] }) };
  }
  throw notMapped();
}

/** The mapped endpoint of a request, or undefined (then it must not be forwarded). */
export function matchEngineEndpoint(method: string, url: string): EngineEndpoint | undefined {
  try {
    return locateEngineRequest(method, url).endpoint;
  } catch (err) {
    if (err instanceof EngineRequestRefusal) return undefined;
    throw err;
  }
}

/** What of a request's body reaches the judge: the bytes read whole (a JSON body), or only that a stream follows (a tar). */
export interface EngineRequestBody {
  contentType?: string;
  inline?: Buffer;
  streamed: boolean;
}

/** A request as it may reach the engine: the bytes judged, and every way they reach the host. */
export interface JudgedEngineRequest {
  endpoint: EngineEndpoint;
  /** Path and query to send: the query serialised again from the parameters judged. */
  path: string;
  /** The JSON body to send: the decoded model serialised again, never the client's bytes. */
  body?: Buffer;
  /** The content type to send (set here, never the client's): JSON for a model, a tar for a tar, none without a body. */
  contentType?: string;
  access: HostAccess[];
}

/** Media types Go's form parser reads parameters from: a body of these types could carry query parameters past the judge. */
const FORM_MEDIA_TYPES = ['application/x-www-form-urlencoded', 'multipart/form-data'];
/** Query parameters the judge reads: one value each, so the engine cannot take another than the one judged. */
const JUDGED_PARAMS: Partial<Record<EngineHostAccessCheck, readonly string[]>> = {
  'image-create': ['fromImage', 'fromSrc', 'tag', 'repo'],
};

/** Judges one located request: body decoded against its endpoint's model, query and registry checks, the bytes to forward. */
export function judgeEngineRequest(located: LocatedEngineRequest, body: EngineRequestBody, policy: AccessPolicy): JudgedEngineRequest {
  const { endpoint, query } = located;
  const mediaType = (body.contentType ?? '').split(';')[0].trim().toLowerCase();
  if (FORM_MEDIA_TYPES.includes(mediaType)) {
    throw new EngineRequestRefusal(
      400,
      'invalid request',
      `a ${mediaType} body is not accepted: the engine would read parameters from it that the gateway did not judge`,
    );
  }
  for (const param of JUDGED_PARAMS[endpoint.hostAccess ?? 'image-registry'] ?? []) {
    if (query.getAll(param).length > 1)
      throw new EngineRequestRefusal(400, 'invalid request', `query parameter '${param}' given more than once`);
  }
  const search = query.toString();
  const path = search === '' ? located.path : `${located.path}?${search}`;
  const queryAccess = queryHostAccess(located, policy);
  const hasBody = body.streamed || (body.inline !== undefined && body.inline.length > 0);
  if (endpoint.body === 'tar') {
    if (hasBody && endpoint.hostAccess === 'image-create' && query.get('fromSrc') !== '-') {
      throw new EngineRequestRefusal(400, 'invalid request', 'POST /images/create takes a body only to import it (fromSrc=-)');
    }
    return { endpoint, path, access: queryAccess, ...(hasBody ? { contentType: 'application/x-tar' } : {}) };
  }
  if (body.streamed)
    throw new EngineRequestRefusal(
      400,
      'invalid request',
      `${endpoint.method} ${endpoint.path} takes ${endpoint.body ? 'its JSON body whole' : 'no body'}`,
    );
  if (!hasBody) return { endpoint, path, access: queryAccess };
  if (endpoint.body === undefined)
    throw new EngineRequestRefusal(400, 'invalid request', `${endpoint.method} ${endpoint.path} takes no body`);
  const decoded = decodeBody(endpoint.body, body.inline as Buffer);
  if (decoded === null) return { endpoint, path, access: queryAccess };
  return {
    endpoint,
    path,
    body: Buffer.from(JSON.stringify(decoded)),
    contentType: 'application/json',
    access: [...queryAccess, ...engineBodyHostAccess(endpoint.body, decoded, policy)],
  };
}

function decodeBody(model: EngineModelName, bytes: Buffer): unknown {
  try {
    return decodeEngineJson(bytes.toString('utf8'), ENGINE_MODELS[model]);
  } catch (err) {
    if (err instanceof EngineBodyError) throw new EngineRequestRefusal(400, 'invalid request', `${model} body: ${err.message}`);
    throw err;
  }
}

/**
 * How the query or path reaches the host: an image import whose `fromSrc` is anything but the
 * body (`-`: the engine fetches any other value as a URL, from the host's network), and a
 * registry outside the allowlist (pull, push, distribution).
 */
function queryHostAccess({ endpoint, query, name }: LocatedEngineRequest, policy: AccessPolicy): HostAccess[] {
  switch (endpoint.hostAccess) {
    case 'image-create': {
      const fromImage = query.get('fromImage');
      const fromSrc = query.get('fromSrc');
      const fetched: HostAccess[] =
        fromSrc !== null && fromSrc !== '-'
          ? [{ reason: `fromSrc '${fromSrc}' (an image import the engine fetches over the host's network)` }]
          : [];
      return [...fetched, ...(fromImage ? registryAccess('fromImage', registryOf(fromImage), policy) : [])];
    }
    case 'image-registry':
      return registryAccess('image', registryOf(name ?? ''), policy);
    default:
      return [];
  }
}

/**
 * What a proxied request's host-access grant (host-grant.ts) signs, built the same on both sides:
 * its operation is the endpoint (`engine POST /containers/create`), its parameters the path and
 * query forwarded and a SHA-256 of the body bytes forwarded; its `job_id` is the session.
 */
export function proxyGrantOperation(endpoint: EngineEndpoint): string {
  return `engine ${endpoint.method} ${endpoint.path}`;
}

export function proxyGrantParams(judged: Pick<JudgedEngineRequest, 'path' | 'body'>): Record<string, unknown> {
  return {
    path: judged.path,
    body_sha256: createHash('sha256')
      .update(judged.body ?? Buffer.alloc(0))
      .digest('hex'),
  };
}

/** Request headers the engine reads that are harmless to pass; every other header of the client stays behind. */
const PASSED_HEADERS = ['user-agent', 'accept'];

/**
 * The headers a judged request reaches the engine with: the harmless ones the client sent, its
 * endpoint's credential header, the content type set by the judge, and the body's length (the
 * judged bytes' own, or the client's for a streamed tar).
 */
export function engineRequestHeaders(
  judged: JudgedEngineRequest,
  given: Readonly<Record<string, string | string[] | undefined>>,
): Record<string, string> {
  const headers: Record<string, string> = {};
  const names = [...PASSED_HEADERS, ...(judged.endpoint.secretHeader ? [judged.endpoint.secretHeader.toLowerCase()] : [])];
  if (judged.body === undefined && judged.contentType !== undefined) names.push('content-length');
  for (const name of names) {
    const value = given[name];
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  if (judged.contentType !== undefined) headers['content-type'] = judged.contentType;
  if (judged.body !== undefined) headers['content-length'] = String(judged.body.length);
  return headers;
}

/** The endpoint a request matched, with the values of its path's `{name}` segments (decoded) and its version prefix. */
export interface EngineCall {
  endpoint: EngineEndpoint;
  params: Record<string, string>;
}

/**
 * A located request's endpoint together with its parameters (`{id}`, `{name+}`, and `version` when the
 * path has a version prefix). The audit records these instead of the raw path.
 */
export function engineCallOf(located: LocatedEngineRequest): EngineCall {
  const decoded = decodeURIComponent(located.path);
  const version = VERSION_SEGMENT.exec(decoded)?.[0];
  const values = namedPatternOf(located.endpoint.path).exec(decoded.slice(version?.length ?? 0))?.groups ?? {};
  return { endpoint: located.endpoint, params: { ...(version ? { version: version.slice(2) } : {}), ...values } };
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
