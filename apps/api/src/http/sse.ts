import type { Response } from 'express';

export interface EventStreamOptions {
  /** Bytes the gateway may hold unsent for a slow client before the stream ends with `overflow`. */
  maxBufferedBytes?: number;
}

/** What an overflowing stream says in its last event; called once. */
export type OverflowHandler = (bufferedBytes: number, limitBytes: number) => Record<string, unknown>;

/** How long a stream that overflowed may take to deliver its last event before its connection is cut. */
const OVERFLOW_GRACE_MS = 10_000;

/**
 * A server-sent-event response whose headers go out with the first event, so
 * that an error found before anything streamed (bad target, no permission)
 * can still answer as a plain `{error, details, code}`. What the client has
 * not read yet is held by the gateway: past `maxBufferedBytes` the stream ends
 * with an `overflow` event rather than grow without bound.
 */
export class EventStream {
  private opened = false;
  private overflowHandler?: OverflowHandler;

  constructor(
    private readonly res: Response,
    private readonly options: EventStreamOptions = {},
  ) {}

  onOverflow(handler: OverflowHandler): void {
    this.overflowHandler = handler;
  }

  send(event: string, data: unknown): void {
    // The name is written into the framing as is: a line break in it would forge events.
    if (!EVENT_NAME.test(event)) throw new Error(`invalid server-sent event name ${JSON.stringify(event)}`);
    if (this.res.writableEnded) return;
    this.open();
    this.res.write(frame(event, data));
    const limit = this.options.maxBufferedBytes;
    if (limit !== undefined && this.res.writableLength > limit) this.overflow(limit);
  }

  end(event: string, data: unknown): void {
    this.send(event, data);
    if (!this.res.writableEnded) this.res.end();
  }

  /**
   * A comment line, which clients skip: it sends the headers of a stream that has no event yet
   * (a feed waiting for its first job) and keeps an idle connection from looking dead to proxies.
   */
  keepAlive(): void {
    if (this.res.writableEnded) return;
    this.open();
    this.res.write(': keep-alive\n\n');
  }

  private overflow(limit: number): void {
    const buffered = this.res.writableLength;
    const data = this.overflowHandler?.(buffered, limit) ?? { buffered_bytes: buffered, limit_bytes: limit };
    this.res.end(
      frame('overflow', {
        ...data,
        reason: `the client read slower than the stream produced; ${buffered} bytes were waiting (limit ${limit})`,
      }),
    );
    // A client that never reads would keep even the buffered bytes alive: cut it after a grace period.
    setTimeout(() => this.res.destroy(), OVERFLOW_GRACE_MS).unref();
  }

  private open(): void {
    if (this.opened) return;
    this.opened = true;
    this.res.status(200).set({ 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'x-accel-buffering': 'no' });
    this.res.flushHeaders();
  }
}

function frame(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}
const EVENT_NAME = /^[a-z][a-z_]*$/;
