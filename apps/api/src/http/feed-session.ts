import type { Request, Response } from 'express';
import { callerOf } from '../auth/middleware';
import type { KeySlots } from '../jobs/key-slots';
import { EventStream } from './sse';

/** How often an open feed asks whether its key was revoked or has expired. */
const KEY_CHECK_MS = 2_000;
/** A comment line this often keeps an idle feed from looking dead to a proxy. */
const KEEP_ALIVE_MS = 15_000;

export interface FeedSessionOptions {
  /** The key's open feeds on this replica (429 past the limit). */
  slots: KeySlots;
  isRevoked: (jti: string) => boolean;
  /** Bytes a client may leave unread before the feed ends with `overflow`. */
  maxBufferedBytes?: number;
}

/** Why a feed ended, in its last event. */
export type FeedEndReason = 'settled' | 'deadline' | 'timeout' | 'revoked' | 'expired';

/**
 * One open feed (contract: GET /feed/…): a bounded server-sent-event stream that lives at most its
 * `timeout`, only while its key stays valid, and holds one of its key's feed slots. Everything a feed
 * subscribes to is handed to `onClose`, so a client going away leaves nothing listening.
 */
export class FeedSession {
  readonly stream: EventStream;
  private readonly disposers: Array<() => void> = [];
  private closed = false;

  constructor(req: Request, res: Response, options: FeedSessionOptions) {
    const caller = callerOf(res);
    this.onClose(options.slots.take(caller.jti));
    this.stream = new EventStream(res, { maxBufferedBytes: options.maxBufferedBytes });
    const timeoutSeconds = Number(req.query.timeout ?? 300);
    const timeout = setTimeout(() => this.end('timeout'), timeoutSeconds * 1000);
    const keyCheck = setInterval(() => {
      if (options.isRevoked(caller.jti)) this.end('revoked');
      else if (caller.exp * 1000 <= Date.now()) this.end('expired');
    }, KEY_CHECK_MS);
    const keepAlive = setInterval(() => this.stream.keepAlive(), KEEP_ALIVE_MS);
    this.onClose(() => (clearTimeout(timeout), clearInterval(keyCheck), clearInterval(keepAlive)));
    res.on('close', () => this.close());
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Runs `dispose` when the feed ends, whoever ends it. */
  onClose(dispose: () => void): void {
    if (this.closed) dispose();
    else this.disposers.push(dispose);
  }

  send(event: string, data: unknown): void {
    if (!this.closed) this.stream.send(event, data);
  }

  /** The last event, `end` with `reason` (and whatever the feed adds), then the connection closes. */
  end(reason: FeedEndReason, extra: Record<string, unknown> = {}): void {
    if (this.closed) return;
    this.stream.end('end', { reason, ...extra });
    this.close();
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    this.disposers.splice(0).forEach((dispose) => dispose());
  }
}
