import type { Request } from 'express';
import type { ProxyAbort, ProxyHead } from '@fleet/contracts/protocol';
import type { SessionHandlers, TunnelSession } from './tunnel';

/** The most of one JSON answer held to be cut; a container inspect is a few kilobytes. */
export const REDACTED_ANSWER_MAX_BYTES = 4 * 1024 * 1024;

/** What the proxy route hands a tunnel session: the session's handlers, attached to the client's request. */
export interface ProxyBridge extends SessionHandlers {
  attach(session: TunnelSession, req: Request): void;
}

/**
 * An Engine answer cut before the client sees any of it (README "Roles, permissions and scope": a
 * container's environment without `docker:read-data`). The whole answer is held (capped), parsed
 * and cut, and the cut bytes are what the client gets, with their own length. A successful answer
 * that cannot be judged (too large, compressed, not JSON) is refused with a 502, never passed on
 * as it came. The engine's errors (no such container) hold no environment and pass unchanged.
 */
export class RedactedAnswer implements ProxyBridge {
  private heldHead?: ProxyHead;
  private readonly chunks: Buffer[] = [];
  private heldBytes = 0;
  private session?: TunnelSession;
  private refused = false;

  constructor(
    private readonly client: ProxyBridge,
    private readonly cut: (answer: unknown) => unknown,
    private readonly maxBytes = REDACTED_ANSWER_MAX_BYTES,
  ) {}

  attach(session: TunnelSession, req: Request): void {
    this.session = session;
    this.client.attach(session, req);
  }

  head(head: ProxyHead): void {
    this.heldHead = head;
  }

  data(bytes: Buffer, handedOn: () => void): void {
    if (this.refused) return;
    this.heldBytes += bytes.length;
    if (this.heldBytes > this.maxBytes) {
      this.refuse(`the engine's answer passed ${this.maxBytes} bytes before its environment could be redacted`);
      this.session?.abort('answer too large to redact');
      return;
    }
    this.chunks.push(bytes);
    handedOn();
  }

  end(): void {
    if (this.refused) return;
    const head = this.heldHead ?? { status: 502, headers: {} };
    const body = Buffer.concat(this.chunks);
    if (head.status !== 200) {
      this.pass(head, body);
      return;
    }
    const answer = this.judge(head, body);
    if (answer === undefined) return;
    this.pass(head, Buffer.from(JSON.stringify(this.cut(answer))));
  }

  abort(reason: ProxyAbort): void {
    if (this.refused) return;
    this.refused = true;
    this.client.abort(reason);
  }

  /** The answer parsed, or undefined after refusing it: only plain JSON can be cut. */
  private judge(head: ProxyHead, body: Buffer): unknown {
    const encoding = headerOf(head, 'content-encoding');
    if (encoding !== undefined && encoding.toLowerCase() !== 'identity') {
      this.refuse(`the engine's answer is encoded (${encoding}), so its environment cannot be redacted`);
      return undefined;
    }
    try {
      return JSON.parse(body.toString('utf8')) as unknown;
    } catch {
      this.refuse("the engine's answer is not JSON, so its environment cannot be redacted");
      return undefined;
    }
  }

  private pass(head: ProxyHead, body: Buffer): void {
    const headers = Object.fromEntries(Object.entries(head.headers).filter(([name]) => name.toLowerCase() !== 'content-length'));
    this.client.head({ status: head.status, headers: { ...headers, 'content-length': String(body.length) } });
    this.client.data(body, () => undefined);
    this.client.end();
  }

  private refuse(details: string): void {
    this.refused = true;
    this.client.abort({ status: 502, error: 'engine answer refused', details });
  }
}

function headerOf(head: ProxyHead, name: string): string | undefined {
  return Object.entries(head.headers).find(([key]) => key.toLowerCase() === name)?.[1];
}
