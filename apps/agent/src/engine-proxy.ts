import { request as httpRequest, Agent as HttpAgent, type ClientRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import {
  engineCallOf,
  engineRequestHeaders,
  EngineRequestRefusal,
  judgeEngineRequest,
  locateEngineRequest,
  proxyGrantOperation,
  proxyGrantParams,
  type JudgedEngineRequest,
  type LocatedEngineRequest,
} from '@fleet/contracts/engine-proxy';
import { hostPathsOutside } from '@fleet/contracts/host-access';
import { hostGrantRefusal } from '@fleet/contracts/host-grant';
import {
  agentDeliverGroup,
  PROXY_ALIVE_MS,
  PROXY_FRAME,
  proxyFrameJson,
  proxyRequestSubject,
  proxyResponseSubject,
  proxySessionOf,
  type ProxyAbort,
  type ProxyHead,
  type ProxyOpen,
} from '@fleet/contracts/protocol';
import { TunnelFlow, type TunnelFrame } from '@fleet/runtime/tunnel';
import { engineRequestUses, type HostObjects } from './host-objects';
import type { HostPolicy } from './host-policy';

export interface EngineProxyDeps {
  nc: Pick<NatsConnection, 'publish' | 'subscribe'>;
  hostname: string;
  /** The engine's unix socket (DOCKER_HOST without `unix://`). */
  socketPath: string;
  hostPolicy: HostPolicy;
  /** Judges the existing objects a request uses (a privileged container, a bind volume, a macvlan network). */
  hostObjects: HostObjects;
  log: Logger;
}

/** Headers that describe one connection, not the request: never passed along. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection', 'te', 'trailer']);

/**
 * This host's end of the Engine API proxy (README "The docker CLI through the gateway"): each
 * session the gateway opens on `fleet.proxy.req.<hostname>.<session>` becomes one request on the
 * local engine socket, its answer flowing back on `fleet.proxy.res.<hostname>.<session>`. Whatever
 * the gateway decided, the endpoint must be one the contract maps, and a request reaching the host
 * must carry the gateway's grant for this session, host and request (checked here again).
 */
export class EngineProxy {
  private readonly sessions = new Map<string, ProxySession>();
  /** Grants already used (session id → expiry): a captured grant cannot open a second session. */
  private readonly usedGrants = new Map<string, number>();
  private readonly keepAlive = new HttpAgent({ keepAlive: true });
  private subscription?: Subscription;
  private ticker?: NodeJS.Timeout;
  private nc: EngineProxyDeps['nc'];

  constructor(private readonly deps: EngineProxyDeps) {
    this.nc = deps.nc;
  }

  start(): void {
    this.subscription = this.subscribe();
    this.ticker = setInterval(() => this.tick(), PROXY_ALIVE_MS);
    this.ticker.unref();
  }

  /**
   * Serves from `nc` (an agent's rotated login) from now on: subscribed there before it leaves the
   * old connection, so no frame is lost; both subscriptions are one queue group, so none is handled twice.
   */
  async moveTo(nc: Pick<NatsConnection, 'publish' | 'subscribe' | 'flush'>): Promise<void> {
    const previous = this.subscription;
    this.nc = nc;
    this.subscription = this.subscribe();
    await nc.flush();
    previous?.unsubscribe();
  }

  private subscribe(): Subscription {
    // A callback subscription runs frames in arrival order: OPEN is handled before the session's next frame.
    return this.nc.subscribe(proxyRequestSubject(this.deps.hostname, '*'), {
      queue: agentDeliverGroup(this.deps.hostname),
      callback: (err, msg) => {
        if (!err) this.dispatch(msg.subject, msg.data);
      },
    });
  }

  stop(): void {
    clearInterval(this.ticker);
    this.subscription?.unsubscribe();
    for (const session of this.sessions.values())
      session.abort({ status: 503, error: 'agent stopping', details: `the agent of ${this.deps.hostname} is stopping` });
    this.keepAlive.destroy();
  }

  private dispatch(subject: string, data: Uint8Array): void {
    const id = proxySessionOf(subject, this.deps.hostname);
    if (!id) return;
    const existing = this.sessions.get(id);
    if (existing) {
      existing.hear(data);
      return;
    }
    const flow = new TunnelFlow((frame) => this.nc.publish(proxyResponseSubject(this.deps.hostname, id), frame));
    const frame = flow.hear(data);
    // A frame of a session this agent does not know (ended, or never opened): tell the gateway it is gone.
    if (frame?.kind !== PROXY_FRAME.OPEN) {
      if (frame && frame.kind !== PROXY_FRAME.ABORT)
        flow.send(PROXY_FRAME.ABORT, { status: 410, error: 'session gone', details: `no proxy session ${id} on ${this.deps.hostname}` });
      return;
    }
    const open = proxyFrameJson<ProxyOpen>(frame.payload);
    const log = this.deps.log.child({ session_id: id, hostname: this.deps.hostname });
    const session = new ProxySession(id, flow, this.deps.socketPath, this.keepAlive, log, () => this.sessions.delete(id));
    this.sessions.set(id, session);
    if (!isProxyOpen(open)) {
      session.abort({ status: 400, error: 'invalid request', details: 'the OPEN frame is not a request the gateway sends' });
      return;
    }
    const judgement = this.judge(id, open);
    if ('refusal' in judgement) {
      log.warn({ method: open.method, path: open.path, refusal: judgement.refusal.details }, 'proxy session refused');
      session.abort(judgement.refusal);
      return;
    }
    session.expect(open);
    this.judgeObjects(judgement).then(
      (verdict) => {
        if ('refusal' in verdict) {
          log.warn({ method: open.method, path: open.path, refusal: verdict.refusal.details }, 'proxy session refused');
          session.abort(verdict.refusal);
        } else session.start(open, verdict.judged);
      },
      (err: Error) => session.abort({ status: 502, error: 'docker engine unavailable', details: err.message }),
    );
  }

  /**
   * The existing objects the request uses, judged on this engine unless the gateway's grant says
   * the caller holds docker:host; the container is then reached by the full id judged.
   */
  private async judgeObjects({
    judged,
    located,
    callerHost,
  }: Judgement): Promise<{ judged: JudgedEngineRequest } | { refusal: ProxyAbort }> {
    const call = engineCallOf(located);
    const uses = callerHost ? undefined : engineRequestUses(judged.endpoint.method, judged.endpoint.path, call.params, judged.body);
    if (!uses) return { judged };
    const verdict = await this.deps.hostObjects.verdict(uses);
    if ('refusal' in verdict) {
      const { status, details } = verdict.refusal;
      return { refusal: { status, error: status === 403 ? 'Forbidden - host access refused' : 'docker engine unavailable', details } };
    }
    return { judged: verdict.containerId === undefined ? judged : { ...judged, path: withContainerId(judged, verdict.containerId) } };
  }

  /**
   * The agent's own judgement of `open`, whatever the gateway decided: the endpoint must be mapped,
   * the request decoded and judged again (the same decode and allowlist), and a request reaching
   * the host must carry the gateway's grant over exactly the path and body bytes judged here,
   * which are the ones sent to the engine.
   */
  private judge(id: string, open: ProxyOpen): Judgement | { refusal: ProxyAbort } {
    let judged: JudgedEngineRequest;
    let located: LocatedEngineRequest;
    try {
      located = locateEngineRequest(open.method, open.path);
      const { endpoint } = located;
      if ((endpoint.kind === 'hijack') !== open.hijack || (open.hijack && open.body))
        return { refusal: { status: 400, error: 'invalid request', details: `${open.method} ${endpoint.path} is ${endpoint.kind}` } };
      const inline = open.inline_body === undefined ? undefined : Buffer.from(open.inline_body, 'base64');
      judged = judgeEngineRequest(
        located,
        { contentType: open.headers['content-type'], inline, streamed: open.body },
        this.deps.hostPolicy.access,
      );
    } catch (err) {
      if (err instanceof EngineRequestRefusal) return { refusal: { status: err.status, error: err.error, details: err.details } };
      throw err;
    }
    const refusal = this.hostAccessRefusal(id, open, judged);
    return refusal ? { refusal } : { judged, located, callerHost: this.callerHolds(id, open, judged) };
  }

  /**
   * Whether the gateway's grant for exactly this request says its caller holds docker:host. A
   * request that stays inside its containers needs no grant, so a bad one only means it does not.
   */
  private callerHolds(id: string, open: ProxyOpen, judged: JudgedEngineRequest): boolean {
    if (open.host_grant?.caller_host !== true) return false;
    if (judged.access.length > 0) return true; // verified and spent by hostAccessRefusal
    const job = {
      job_id: id,
      operation: proxyGrantOperation(judged.endpoint),
      hostname: this.deps.hostname,
      params: proxyGrantParams(judged),
    };
    if (hostGrantRefusal(open.host_grant, job, this.deps.hostPolicy.grantKey) || this.usedGrants.has(id)) return false;
    this.usedGrants.set(id, open.host_grant.expires_at);
    return true;
  }

  private hostAccessRefusal(id: string, open: ProxyOpen, judged: JudgedEngineRequest): ProxyAbort | undefined {
    const { access, endpoint } = judged;
    if (access.length === 0) return undefined;
    const reasons = access.map((item) => item.reason).join('; ');
    const forbidden = (details: string): ProxyAbort => ({
      status: 403,
      error: 'Forbidden - host access refused',
      details: `${reasons}: ${details}`,
    });
    const { grantKey, allowedPaths } = this.deps.hostPolicy;
    const job = { job_id: id, operation: proxyGrantOperation(endpoint), hostname: this.deps.hostname, params: proxyGrantParams(judged) };
    const grantRefusal = hostGrantRefusal(open.host_grant, job, grantKey);
    if (grantRefusal) return forbidden(grantRefusal);
    if (this.usedGrants.has(id)) return forbidden('the host-access grant was used already');
    this.usedGrants.set(id, open.host_grant?.expires_at ?? 0);
    const outside = allowedPaths ? hostPathsOutside(access, allowedPaths) : [];
    if (outside.length > 0) return forbidden(`host path ${outside.join(', ')} is outside this agent's FLEET_AGENT_HOST_PATHS`);
    return undefined;
  }

  private tick(): void {
    const now = Date.now();
    for (const session of this.sessions.values()) session.keepAlive(now);
    for (const [id, expiresAt] of this.usedGrants) if (expiresAt < now) this.usedGrants.delete(id);
  }
}

/** A request the agent judged, where it was located, and whether its caller holds docker:host. */
interface Judgement {
  judged: JudgedEngineRequest;
  located: LocatedEngineRequest;
  callerHost: boolean;
}

/** The judged path with its container segment (`{id}`) replaced by the full id inspected. */
function withContainerId(judged: JudgedEngineRequest, containerId: string): string {
  const queryAt = judged.path.indexOf('?');
  const path = queryAt === -1 ? judged.path : judged.path.slice(0, queryAt);
  const pattern = judged.endpoint.path.split('/');
  const segments = path.split('/');
  // A version prefix (`/v1.41`) is the one segment the path has beyond its endpoint's pattern.
  segments[pattern.indexOf('{id}') + segments.length - pattern.length] = containerId;
  return segments.join('/') + (queryAt === -1 ? '' : judged.path.slice(queryAt));
}

function isProxyOpen(value: unknown): value is ProxyOpen {
  if (typeof value !== 'object' || value === null) return false;
  const open = value as Record<string, unknown>;
  const headers = open.headers;
  return (
    typeof open.method === 'string' &&
    typeof open.path === 'string' &&
    typeof open.hijack === 'boolean' &&
    typeof open.body === 'boolean' &&
    (open.inline_body === undefined || typeof open.inline_body === 'string') &&
    typeof headers === 'object' &&
    headers !== null &&
    Object.values(headers).every((header) => typeof header === 'string')
  );
}

/** One proxied request on the engine socket: its body and answer flow through the session's frames. */
class ProxySession {
  private engineRequest?: ClientRequest;
  private engineResponse?: IncomingMessage;
  private upgraded?: Socket;
  /** Request bytes heard before the engine connection could take them (a hijack's stdin before 101). */
  private readonly early: Buffer[] = [];
  private earlyEnd = false;
  private headSent = false;
  private ended = false;
  /** Whether DATA frames are part of the call at all: a streamed body, or a hijack's stdin. */
  private takesBytes = false;

  constructor(
    readonly id: string,
    private readonly flow: TunnelFlow,
    private readonly socketPath: string,
    private readonly keepAliveAgent: HttpAgent,
    private readonly log: Logger,
    private readonly onDone: () => void,
  ) {}

  /** Holds the request bytes that arrive while the request is still being judged. */
  expect(open: ProxyOpen): void {
    this.takesBytes = open.body || open.hijack;
  }

  /** Sends exactly the judged request to the engine: its path, its headers, its body bytes. */
  start(open: ProxyOpen, judged: JudgedEngineRequest): void {
    if (this.ended) return;
    this.log.info({ method: open.method, path: judged.path, caller: open.caller, hijack: open.hijack }, 'proxy session opened');
    // Said at once: the gateway knows the session reached its agent before the engine answers.
    this.flow.send(PROXY_FRAME.ALIVE);
    const headers = engineRequestHeaders(judged, open.headers);
    if (open.hijack) Object.assign(headers, { connection: 'Upgrade', upgrade: 'tcp' });
    const inline = judged.body;
    const request = httpRequest({
      socketPath: this.socketPath,
      method: open.method,
      path: judged.path,
      headers,
      // A hijacked connection is taken over and never pooled.
      agent: open.hijack ? false : this.keepAliveAgent,
    });
    this.engineRequest = request;
    request.on('response', (response) => this.answer(response));
    request.on('upgrade', (response, socket, head) => this.upgrade(response, socket, head));
    request.on('error', (err) => this.abort({ status: 502, error: 'docker engine unavailable', details: err.message }));
    // A streamed body follows as DATA frames; a hijack's stdin only once the engine upgraded.
    if (inline) request.end(inline);
    else if (!open.body) request.end();
    else this.flushEarly(request);
  }

  /** A streamed body's bytes heard while the request was judged, then its end if heard too. */
  private flushEarly(request: ClientRequest): void {
    for (const bytes of this.early.splice(0)) this.requestBytes(bytes);
    if (this.earlyEnd) request.end();
  }

  hear(raw: Uint8Array): void {
    const frame = this.flow.hear(raw);
    if (frame) this.handle(frame);
  }

  keepAlive(now: number): void {
    if (!this.flow.keepAlive(now))
      this.abort({ status: 504, error: 'gateway silent', details: 'the gateway end of the session went silent' }, false);
  }

  /** Ends the session: tells the gateway why (unless it was the gateway that ended it) and drops the engine call. */
  abort(reason: ProxyAbort, tellGateway = true): void {
    if (this.ended) return;
    if (tellGateway) this.flow.send(PROXY_FRAME.ABORT, reason);
    this.finish(reason.details);
  }

  private handle(frame: TunnelFrame): void {
    if (frame.kind === PROXY_FRAME.DATA) this.requestBytes(frame.payload);
    else if (frame.kind === PROXY_FRAME.END) this.requestEnded();
    else if (frame.kind === PROXY_FRAME.ABORT)
      this.abort(
        {
          status: 499,
          error: 'client gone',
          details: proxyFrameJson<ProxyAbort>(frame.payload)?.details ?? 'the gateway ended the session',
        },
        false,
      );
  }

  private requestBytes(bytes: Buffer): void {
    // Bytes for a call that takes none (a create's body travels inline, already judged) go nowhere.
    if (!this.takesBytes) return;
    const sink = this.upgraded ?? (this.engineRequest && !this.engineRequest.writableEnded ? this.engineRequest : undefined);
    if (!sink) {
      this.early.push(bytes);
      return;
    }
    sink.write(bytes, () => this.flow.consumed(bytes.length));
  }

  private requestEnded(): void {
    if (this.upgraded) this.upgraded.end();
    else if (this.engineRequest && !this.engineRequest.writableEnded) this.engineRequest.end();
    else this.earlyEnd = true;
  }

  private answer(response: IncomingMessage): void {
    this.engineResponse = response;
    this.sendHead(response.statusCode ?? 502, response.headers);
    this.flow.pipeFrom(response, () => this.finish());
    response.on('error', (err) => this.abort({ status: 502, error: 'engine stream failed', details: err.message }));
  }

  /** The engine switched to a raw stream: 101 to the gateway, then bytes both ways until it ends. */
  private upgrade(response: IncomingMessage, socket: Socket, head: Buffer): void {
    this.upgraded = socket;
    this.sendHead(response.statusCode ?? 101, response.headers);
    if (head.length > 0) this.flow.sendData(head);
    for (const bytes of this.early.splice(0)) this.requestBytes(bytes);
    if (this.earlyEnd) socket.end();
    this.flow.pipeFrom(socket);
    socket.on('close', () => this.finish());
    socket.on('error', (err) => this.log.info({ err: err.message }, 'engine stream closed with an error'));
  }

  private sendHead(status: number, raw: IncomingHttpHeaders): void {
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(raw)) {
      if (value !== undefined && !HOP_BY_HOP.has(name)) headers[name] = Array.isArray(value) ? value.join(', ') : value;
    }
    this.headSent = true;
    this.flow.send(PROXY_FRAME.HEAD, { status, headers } satisfies ProxyHead);
  }

  private finish(why?: string): void {
    if (this.ended) return;
    this.ended = true;
    this.engineResponse?.destroy();
    this.engineRequest?.destroy();
    this.upgraded?.destroy();
    this.onDone();
    this.log.info({ head_sent: this.headSent, ...(why ? { why } : {}) }, 'proxy session ended');
  }
}
