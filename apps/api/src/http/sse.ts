import type { Response } from 'express';

/**
 * A server-sent-event response whose headers go out with the first event, so
 * that an error found before anything streamed (bad target, no permission)
 * can still answer as a plain `{error, details, code}`.
 */
export class EventStream {
  private opened = false;

  constructor(private readonly res: Response) {}

  send(event: string, data: unknown): void {
    if (this.res.writableEnded) return;
    this.open();
    this.res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  end(event: string, data: unknown): void {
    this.send(event, data);
    this.res.end();
  }

  private open(): void {
    if (this.opened) return;
    this.opened = true;
    this.res.status(200).set({ 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'x-accel-buffering': 'no' });
    this.res.flushHeaders();
  }
}
