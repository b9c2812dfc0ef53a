import type { KeyObject } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { Router, type Request, type RequestHandler, type Response } from 'express';
import { engineAnswerRedaction } from '@fleet/contracts/data-redaction';
import {
  ENGINE_PROXY_PATH,
  engineCallOf,
  engineRequestHeaders,
  EngineRequestRefusal,
  judgeEngineRequest,
  locateEngineRequest,
  proxyGrantOperation,
  proxyGrantParams,
  type EngineEndpoint,
  type JudgedEngineRequest,
  type LocatedEngineRequest,
} from '@fleet/contracts/engine-proxy';
import { parseTarget, TargetSyntaxError } from '@fleet/contracts/grammar';
import type { AccessPolicy } from '@fleet/contracts/host-access';
import { paramsDigest, signHostGrant } from '@fleet/contracts/host-grant';
import type { ProxyAbort, ProxyHead, ProxyOpen } from '@fleet/contracts/protocol';
import { reasonOfProxyAbort, reasonOfStatus } from '@fleet/contracts/error-reasons';
import { callerOf, requirePermission, type Caller } from '../auth/middleware';
import { ApiError, badRequest } from '../api-error';
import { noteRefusal, toApiError } from '../http/error-answer';
import type { KeySlots } from '../jobs/key-slots';
import { RedactedAnswer, type ProxyBridge } from '../proxy/redacted-answer';
import { newSessionId, type EngineTunnel, type TunnelSession } from '../proxy/tunnel';
import type { TargetResolver } from '../targets/resolve';

export interface EngineProxyDeps {
  tunnel: EngineTunnel;
  resolver: TargetResolver;
  /** Largest create body judged for host access (FLEET_BODY_LIMIT). */
  bodyLimit: string;
  /** Signs host-access grants; without it no proxied request may reach a host. */
  hostGrantKey?: KeyObject;
  /** Streams and hijacks hold a long-running slot of their key. */
  longRunningSlots?: KeySlots;
  /** What reaches a host beyond the Engine models' own rules (the registry allowlist). */
  accessPolicy: AccessPolicy;
}

/** The mount point of the proxy, from the contract's `x-engine-proxy.path` (`/node/{hostname}/docker`). */
const MOUNT = ENGINE_PROXY_PATH.replace('{hostname}', ':hostname');
const UNDER_MOUNT = new RegExp(`^${ENGINE_PROXY_PATH.replace('{hostname}', '[^/?]+')}(?:[/?]|$)`);

/** What express' router matches of the mount: its literal segments in any case. */
const UNDER_MOUNT_ANY_CASE = new RegExp(UNDER_MOUNT.source, 'i');

export function isEngineProxyPath(url: string): boolean {
  return UNDER_MOUNT.test(url);
}

/** How long a host-access grant of one proxied request stays valid: it is used at once. */
const GRANT_TTL_MS = 60_000;
/** Largest body of a hijack request (`{"Detach":false,"Tty":false}` and the like). */
const HIJACK_BODY_LIMIT = 64 * 1024;
/** Headers of the engine's answer the gateway sets itself. */
const NOT_RETURNED = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade']);

/** Bytes that arrived with an upgrade request's head (its body, maybe early stdin), by request. */
const upgradeHeads = new WeakMap<IncomingMessage, Buffer>();

/** Marks a request that came in through the server's `upgrade` event (a hijack), with the bytes read past its head. */
export function markUpgrade(req: IncomingMessage, head: Buffer): void {
  upgradeHeads.set(req, head);
}

/**
 * `/node/:hostname/docker/*`: the Engine API of one host, for the docker CLI and every Engine API
 * client (README "The docker CLI through the gateway"). Each request is judged here — one hostname,
 * an endpoint the contract maps, its permission, the key's scope, host access — and then carried
 * to the host's agent through the tunnel. Errors are the `{error, details, code}` envelope with the
 * Engine's own `message` field too, so the docker CLI prints them.
 */
export function engineProxyRoutes(deps: EngineProxyDeps): RequestHandler {
  const router = Router();
  router.use(MOUNT, (req, res, next) => {
    // The gateway's own faults go to its error handler, which logs them.
    proxy(deps, req, res).catch((err: unknown) => (toApiError(err) ? sendProxyError(res, err) : next(err)));
  });
  // Any other request goes on at once: leaving a router takes a turn of the event loop (express' router leaves by setImmediate).
  return (req, res, next) => (UNDER_MOUNT_ANY_CASE.test(req.url) ? router(req, res, next) : next());
}

async function proxy(deps: EngineProxyDeps, req: Request, res: Response): Promise<void> {
  const hostname = singleHost(String(req.params.hostname));
  const caller = callerOf(res);
  const located = refusalAsApiError(() => locateEngineRequest(req.method, req.url));
  const { endpoint } = located;
  // The audit records the endpoint judged and its parameters, not the path as sent (http/request-log.ts).
  res.locals.engineCall = engineCallOf(located);
  requirePermission(caller, endpoint.permission, `${endpoint.method} ${endpoint.path}`);
  // Whether the host is live, accepted and inside the key's scope: the resolver's one answer for every route.
  deps.resolver.resolve(hostname, caller.scope);
  const head = upgradeHeads.get(req);
  if ((endpoint.kind === 'hijack') !== (head !== undefined)) {
    const needs = endpoint.kind === 'hijack' ? 'needs' : 'takes no';
    throw badRequest(`${endpoint.method} ${endpoint.path} ${needs} 'Connection: Upgrade' and 'Upgrade: tcp'`);
  }
  const id = newSessionId();
  const inline: { body: Buffer; rest?: Buffer } | undefined = head
    ? await readHijackBody(req, head)
    : endpoint.body !== undefined && endpoint.body !== 'tar' && hasBody(req)
      ? await readWholeBody(req, byteSize(deps.bodyLimit))
      : undefined;
  const streamed = head === undefined && inline === undefined && hasBody(req);
  const judged = refusalAsApiError(() =>
    judgeEngineRequest(located, { contentType: req.headers['content-type'], inline: inline?.body, streamed }, deps.accessPolicy),
  );
  const open: ProxyOpen = {
    method: req.method,
    path: judged.path,
    headers: engineRequestHeaders(judged, req.headers),
    hijack: head !== undefined,
    body: streamed,
    caller: caller.sub,
    ...(judged.body === undefined ? {} : { inline_body: judged.body.toString('base64') }),
  };
  const grant = hostGrantFor(deps, caller, judged, hostname, id);
  if (grant) open.host_grant = grant;
  const release = endpoint.kind === 'plain' ? () => undefined : (deps.longRunningSlots?.take(caller.jti) ?? (() => undefined));
  res.locals.proxySession = { session_id: id, hostname };
  const bridge = withoutData(
    caller,
    endpoint,
    head ? new HijackBridge(res, inline?.rest ?? Buffer.alloc(0)) : new ResponseBridge(res, endpoint.kind === 'stream'),
  );
  const session = deps.tunnel.open(hostname, open, bridge, id);
  session.whenClosed(release);
  bridge.attach(session, req);
}

/** An answer holding a container's environment reaches a key without `docker:read-data` cut (data-redaction.ts). */
function withoutData(caller: Caller, endpoint: EngineEndpoint, bridge: ProxyBridge): ProxyBridge {
  const cut = caller.permissions.includes('docker:read-data') ? undefined : engineAnswerRedaction(endpoint);
  return cut ? new RedactedAnswer(bridge, cut) : bridge;
}

/** The one hostname the proxy reaches; `_any`, `_all` and selectors are refused, saying why. */
function singleHost(raw: string): string {
  let target;
  try {
    target = parseTarget(raw);
  } catch (err) {
    if (err instanceof TargetSyntaxError) throw new ApiError('invalid_target', err.message, { cause: err });
    throw err;
  }
  if (target.kind === 'host') return target.hostname;
  throw new ApiError(
    'invalid_target',
    `'${raw}' may reach several hosts (or a different one on each call); the Engine API proxy speaks to exactly one engine: name a ` +
      `hostname, e.g. /node/web-01/docker`,
  );
}

/** The contract's judgement of a proxied request (engine-proxy.ts), its refusals as the gateway's errors. */
function refusalAsApiError<T extends LocatedEngineRequest | JudgedEngineRequest>(judge: () => T): T {
  try {
    return judge();
  } catch (err) {
    if (err instanceof EngineRequestRefusal) throw new ApiError(reasonOfStatus(err.status), err.details, { error: err.error });
    throw err;
  }
}

/**
 * Signs the grant a host-reaching request needs (403 without `docker:host`), over exactly the path
 * and body bytes forwarded. A caller holding `docker:host` gets one on every request, saying so
 * (`caller_host`), so its agent lets it use host-level objects an admin made; any other caller
 * gets none for a request that stays inside its containers.
 */
function hostGrantFor(deps: EngineProxyDeps, caller: Caller, judged: JudgedEngineRequest, hostname: string, id: string) {
  const { endpoint, access } = judged;
  const callerHost = caller.permissions.includes('docker:host');
  if (access.length === 0 && !callerHost) return undefined;
  const reasons = access.map((item) => item.reason).join('; ');
  if (access.length > 0) requirePermission(caller, 'docker:host', `${endpoint.method} ${endpoint.path} with ${reasons}`);
  if (!deps.hostGrantKey) {
    if (access.length === 0) return undefined;
    throw new ApiError('host_access_off', `${reasons}: this gateway has no FLEET_HOST_GRANT_PRIVATE_KEY_FILE, so nothing may reach a host`);
  }
  const claims = {
    job_id: id,
    operation: proxyGrantOperation(endpoint),
    hosts: [hostname],
    params_sha256: paramsDigest(proxyGrantParams(judged)),
    expires_at: Date.now() + GRANT_TTL_MS,
  };
  return signHostGrant(callerHost ? { ...claims, caller_host: true } : claims, deps.hostGrantKey);
}

const UNITS: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3, tb: 1024 ** 4, pb: 1024 ** 5 };

/** `256kb` → 262144, as FLEET_BODY_LIMIT is written (settings' `byte-size`). */
function byteSize(text: string): number {
  const match = /^([0-9]+(?:\.[0-9]+)?)\s*([kmgtp]?b)?$/i.exec(text.trim());
  return match ? Math.floor(Number(match[1]) * UNITS[(match[2] ?? 'b').toLowerCase()]) : 0;
}

function hasBody(req: Request): boolean {
  return req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
}

/** A create body, read whole (it is judged for host access and signed before it leaves). */
async function readWholeBody(req: Request, limit: number): Promise<{ body: Buffer }> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new ApiError('payload_too_large', `the body exceeds ${limit} bytes (FLEET_BODY_LIMIT)`);
    chunks.push(chunk);
  }
  return { body: Buffer.concat(chunks) };
}

/** A hijack request's body (Content-Length bytes) from the bytes past its head and the socket; the rest is early stdin. */
async function readHijackBody(req: Request, head: Buffer): Promise<{ body: Buffer; rest: Buffer }> {
  const length = Number(req.headers['content-length'] ?? 0);
  if (!Number.isSafeInteger(length) || length < 0 || length > HIJACK_BODY_LIMIT) {
    throw badRequest(`a hijack request's body must have a Content-Length of at most ${HIJACK_BODY_LIMIT} bytes`);
  }
  const socket = req.socket;
  let buffered = head;
  while (buffered.length < length) {
    const more = await nextChunk(socket);
    if (!more) throw badRequest('the connection ended inside the request body');
    buffered = Buffer.concat([buffered, more]);
  }
  socket.pause();
  return { body: buffered.subarray(0, length), rest: buffered.subarray(length) };
}

function nextChunk(socket: Socket): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const onData = (chunk: Buffer) => done(chunk);
    const onEnd = () => done(undefined);
    const done = (chunk: Buffer | undefined) => {
      socket.off('data', onData).off('end', onEnd).off('close', onEnd);
      socket.pause();
      resolve(chunk);
    };
    socket.on('data', onData).once('end', onEnd).once('close', onEnd);
    socket.resume();
  });
}

/** A plain or streaming answer: the engine's status, headers and body, with backpressure on the client. */
class ResponseBridge {
  constructor(
    private readonly res: Response,
    /** A stream (logs -f, events) shows its head at once, before its first bytes. */
    private readonly flushHead: boolean,
  ) {}

  attach(session: TunnelSession, req: Request): void {
    if (hasBody(req)) session.sendBody(req);
    this.res.once('close', () => {
      if (!this.res.writableFinished) session.abort('the client went away');
    });
  }

  head(head: ProxyHead): void {
    this.res.status(head.status);
    for (const [name, value] of Object.entries(head.headers)) if (!NOT_RETURNED.has(name)) this.res.setHeader(name, value);
    if (this.flushHead) this.res.flushHeaders();
  }

  data(bytes: Buffer, handedOn: () => void): void {
    this.res.write(bytes, () => handedOn());
  }

  end(): void {
    this.res.end();
  }

  abort(reason: ProxyAbort): void {
    if (this.res.headersSent) this.res.destroy();
    else sendProxyError(this.res, abortError(reason));
  }
}

/**
 * A hijacked stream: `101 UPGRADED` with the engine's content type, then raw bytes both ways. The
 * client's half-close (no stdin) is passed on as END while the engine's output keeps flowing; the
 * connection ends when the engine ends it.
 */
class HijackBridge {
  private session?: TunnelSession;
  private socket?: Socket;

  constructor(
    private readonly res: Response,
    private readonly earlyStdin: Buffer,
  ) {}

  attach(session: TunnelSession): void {
    this.session = session;
    this.res.once('close', () => {
      if (!this.socket && !this.res.writableFinished) session.abort('the client went away');
    });
  }

  head(head: ProxyHead): void {
    if (head.status !== 101) {
      // The engine refused (no such exec, container not running): an ordinary answer, then the connection closes.
      this.res.status(head.status);
      for (const [name, value] of Object.entries(head.headers)) if (!NOT_RETURNED.has(name)) this.res.setHeader(name, value);
      return;
    }
    const socket = this.res.socket as Socket;
    const contentType = head.headers['content-type'] ?? 'application/vnd.docker.raw-stream';
    this.res.writeHead(101, 'UPGRADED', { 'Content-Type': contentType, Connection: 'Upgrade', Upgrade: 'tcp' });
    this.res.end();
    this.res.detachSocket(socket);
    this.socket = socket;
    const session = this.session as TunnelSession;
    if (this.earlyStdin.length > 0) session.sendBytes(this.earlyStdin);
    socket.setTimeout(0);
    session.sendBody(socket);
    socket.once('close', () => session.abort('the client closed the connection'));
    socket.on('error', () => socket.destroy());
    socket.resume();
  }

  data(bytes: Buffer, handedOn: () => void): void {
    if (this.socket) this.socket.write(bytes, () => handedOn());
    else this.res.write(bytes, () => handedOn());
  }

  end(): void {
    if (this.socket) this.socket.end();
    else this.res.end();
  }

  abort(reason: ProxyAbort): void {
    if (this.socket) this.socket.destroy();
    else if (this.res.headersSent) this.res.destroy();
    else sendProxyError(this.res, abortError(reason));
  }
}

function internalProxyError(cause: unknown): ApiError {
  return new ApiError('internal_error', 'the gateway failed to proxy the request; see its log', { cause });
}

/**
 * The gateway's error envelope, plus `message` (what the Engine API's clients print), as
 * `application/json` exactly: the docker CLI only reads `message` from that content type.
 */
export function sendProxyError(res: ServerResponse, err: unknown): void {
  const apiError = toApiError(err) ?? internalProxyError(err);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  noteRefusal(res, apiError);
  const body = { ...apiError.body(), message: `${apiError.error}: ${apiError.details}` };
  res.statusCode = apiError.status;
  for (const [name, value] of Object.entries(apiError.headers)) res.setHeader(name, value);
  res.setHeader('Content-Type', 'application/json');
  res.end(JSON.stringify(body));
}

/** A proxy session ended before its head: the agent's (or the tunnel's) reason, known by its status. */
function abortError(abort: ProxyAbort): ApiError {
  return new ApiError(reasonOfProxyAbort(abort.status), abort.details, { error: abort.error });
}
