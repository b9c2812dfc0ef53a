export interface SseEvent {
  event: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  data: any;
}

/** A live server-sent-event connection: collects events as they come and can be closed from the client side. */
export class EventStreamClient {
  readonly events: SseEvent[] = [];
  status = 0;
  private readonly abort = new AbortController();
  private readonly done: Promise<void>;

  constructor(url: string, headers: Record<string, string>) {
    this.done = this.read(url, headers).catch((err: Error) => {
      if (!this.abort.signal.aborted) throw err;
    });
  }

  /** Resolves with the first event matching `predicate`, or rejects after `timeoutMs`. */
  async waitFor(predicate: (event: SseEvent) => boolean, timeoutMs = 20_000): Promise<SseEvent> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events.find(predicate);
      if (found) return found;
      if (Date.now() > until)
        throw new Error(`no matching event within ${timeoutMs} ms; got ${JSON.stringify(this.events).slice(0, 1000)}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** Ends the stream the way a client does: by closing its connection. */
  async close(): Promise<void> {
    this.abort.abort();
    await this.done;
  }

  /** Waits for the server to end the stream. */
  finished(): Promise<void> {
    return this.done;
  }

  private async read(url: string, headers: Record<string, string>): Promise<void> {
    const res = await fetch(url, { headers, signal: this.abort.signal });
    this.status = res.status;
    if (!res.body) return;
    const decoder = new TextDecoder();
    let buffered = '';
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buffered += decoder.decode(chunk, { stream: true });
      const blocks = buffered.split('\n\n');
      buffered = blocks.pop() ?? '';
      for (const block of blocks) this.events.push(parseBlock(block));
    }
  }
}

function parseBlock(block: string): SseEvent {
  const fields = Object.fromEntries(
    block.split('\n').map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 1).trim()]),
  );
  return { event: fields.event ?? 'message', data: fields.data ? JSON.parse(fields.data) : undefined };
}
