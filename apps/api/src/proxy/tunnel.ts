import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import {
  PROXY_ALIVE_MS,
  PROXY_FRAME,
  proxyFrameJson,
  proxyRequestSubject,
  proxyResponseSubject,
  type ProxyAbort,
  type ProxyHead,
  type ProxyOpen,
} from '@fleet/contracts/protocol';
import { TunnelFlow } from '@fleet/runtime/tunnel';

/** What the HTTP side does with the agent's answer. */
export interface SessionHandlers {
  head(head: ProxyHead): void;
  /** Answer bytes; call `handedOn` once they were taken by the client (that is what credits the agent). */
  data(bytes: Buffer, handedOn: () => void): void;
  end(): void;
  /** The agent (or the silence check) ended the session; `reason.status` answers when no head went out yet. */
  abort(reason: ProxyAbort): void;
}

/**
 * The gateway's end of the Engine API proxy's NATS tunnel (protocol.ts): one session per proxied
 * HTTP request, opened on the host's `fleet.proxy.req.<hostname>.<session>` and answered on
 * `fleet.proxy.res.<hostname>.<session>`, which only that host's agent may publish. It knows
 * nothing of HTTP: the route bridges a session to its request and response.
 */
export class EngineTunnel {
  private readonly sessions = new Set<TunnelSession>();
  private readonly ticker: NodeJS.Timeout;

  constructor(
    private readonly nc: Pick<NatsConnection, 'publish' | 'subscribe'>,
    private readonly log: Logger,
  ) {
    this.ticker = setInterval(() => this.tick(), PROXY_ALIVE_MS);
    this.ticker.unref();
  }

  open(hostname: string, open: ProxyOpen, handlers: SessionHandlers, id: string = newSessionId()): TunnelSession {
    const session = new TunnelSession(id, hostname, this.nc, handlers, this.log.child({ session_id: id, hostname }), () =>
      this.sessions.delete(session),
    );
    this.sessions.add(session);
    session.send(open);
    return session;
  }

  stop(): void {
    clearInterval(this.ticker);
    for (const session of this.sessions) session.fail({ status: 503, error: 'gateway stopping', details: 'the gateway is stopping' });
  }

  private tick(): void {
    const now = Date.now();
    for (const session of this.sessions) session.keepAlive(now);
  }
}

/** A session id: one NATS subject token, unguessable. */
export function newSessionId(): string {
  return randomUUID().replace(/-/g, '');
}

export class TunnelSession {
  private readonly flow: TunnelFlow;
  private readonly subscription: Subscription;
  private done = false;
  private readonly closers: Array<() => void> = [];

  constructor(
    readonly id: string,
    readonly hostname: string,
    nc: Pick<NatsConnection, 'publish' | 'subscribe'>,
    private readonly handlers: SessionHandlers,
    readonly log: Logger,
    private readonly onDone: () => void,
  ) {
    this.flow = new TunnelFlow((frame) => nc.publish(proxyRequestSubject(hostname, id), frame));
    // Subscribed before OPEN goes out (same connection, so the server has it first): no answer is missed.
    this.subscription = nc.subscribe(proxyResponseSubject(hostname, id), {
      callback: (err, msg) => {
        if (!err) this.hear(msg.data);
      },
    });
  }

  /** Runs `fn` once the session ended, however it ended. */
  whenClosed(fn: () => void): void {
    if (this.done) fn();
    else this.closers.push(fn);
  }

  send(open: ProxyOpen): void {
    this.log.info({ method: open.method, path: open.path, caller: open.caller, hijack: open.hijack }, 'proxy session opened');
    this.flow.send(PROXY_FRAME.OPEN, open);
  }

  /** Streams a request body (or a hijack's stdin) to the engine; END when it ends. */
  sendBody(source: Readable): void {
    this.flow.pipeFrom(source);
  }

  sendBytes(bytes: Buffer): void {
    this.flow.sendData(bytes);
  }

  /** Ends the session on both sides: the agent drops its engine call (the client went away). */
  abort(details: string): void {
    if (this.done) return;
    this.flow.send(PROXY_FRAME.ABORT, { status: 499, error: 'client gone', details } satisfies ProxyAbort);
    this.close(details);
  }

  keepAlive(now: number): void {
    if (!this.flow.keepAlive(now))
      this.fail({ status: 504, error: 'agent not responding', details: `the agent of ${this.hostname} went silent during the session` });
  }

  /** Ends the session on both sides from the gateway's end, and tells the HTTP side why. */
  fail(reason: ProxyAbort): void {
    if (this.done) return;
    this.flow.send(PROXY_FRAME.ABORT, reason);
    this.handlers.abort(reason);
    this.close(reason.details);
  }

  private hear(raw: Uint8Array): void {
    if (this.done) return;
    const frame = this.flow.hear(raw);
    if (!frame) return;
    if (frame.kind === PROXY_FRAME.HEAD) {
      const head = proxyFrameJson<ProxyHead>(frame.payload);
      if (head && Number.isInteger(head.status) && typeof head.headers === 'object') this.handlers.head(head);
      else this.fail({ status: 502, error: 'bad gateway', details: 'the agent sent a malformed head' });
    } else if (frame.kind === PROXY_FRAME.DATA) {
      const bytes = frame.payload;
      this.handlers.data(bytes, () => this.flow.consumed(bytes.length));
    } else if (frame.kind === PROXY_FRAME.END) {
      this.handlers.end();
      this.close();
    } else if (frame.kind === PROXY_FRAME.ABORT) {
      const reason = proxyFrameJson<ProxyAbort>(frame.payload);
      this.handlers.abort(
        isAbort(reason) ? reason : { status: 502, error: 'agent ended the session', details: 'the agent ended the session' },
      );
      this.close(reason?.details);
    }
  }

  private close(why?: string): void {
    if (this.done) return;
    this.done = true;
    this.subscription.unsubscribe();
    this.onDone();
    for (const fn of this.closers.splice(0)) fn();
    this.log.info(why ? { why } : {}, 'proxy session ended');
  }
}

function isAbort(value: ProxyAbort | undefined): value is ProxyAbort {
  return (
    value !== undefined &&
    Number.isInteger(value.status) &&
    value.status >= 400 &&
    value.status < 600 &&
    typeof value.details === 'string' &&
    typeof value.error === 'string'
  );
}
