import { createParser } from 'eventsource-parser';
import type { StreamEvent } from './types';

/** The events of a `text/event-stream` body, each `data` parsed as the JSON the gateway sends. */
export async function* readEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<StreamEvent> {
  const ready: StreamEvent[] = [];
  const parser = createParser({
    onEvent: (message) =>
      void ready.push({ event: message.event ?? 'message', data: message.data === '' ? undefined : JSON.parse(message.data) }),
  });
  const decoder = new TextDecoder();
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    parser.feed(decoder.decode(chunk, { stream: true }));
    yield* ready.splice(0);
  }
}
