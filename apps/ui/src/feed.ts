import { useEffect, useRef, useState } from 'preact/hooks';
import { failureOf, storedKey } from './api';
import { messageOf } from './hooks';

/** What a handler answers: `stop` ends the feed for good (a settled job), anything else keeps it open. */
export type FeedHandler = (event: string, data: unknown) => 'stop' | void;

/** Seconds a feed may stay open before the page opens a fresh one (the contract caps `timeout`). */
const FEED_SECONDS = 600;
/** After a feed breaks, wait this long before opening it again (grows up to 30 s while it keeps failing). */
const RETRY_MS = 1_000;

/**
 * Reads a server-sent-event response with fetch (EventSource cannot send the
 * key as a header) and hands each `event`/`data` pair on as it arrives.
 * Comment lines (`: keep-alive`) carry no event and are skipped.
 */
export async function readEvents(res: Response, onEvent: (event: string, data: string) => 'stop' | void): Promise<'stop' | void> {
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let boundary: number;
    while ((boundary = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, boundary);
      buffer = buffer.slice(boundary + 2);
      const lines = block.split('\n');
      const data = lines
        .filter((l) => l.startsWith('data: '))
        .map((l) => l.slice(6))
        .join('\n');
      if (!data) continue;
      const event = lines.find((l) => l.startsWith('event: '))?.slice(7) ?? 'message';
      if (onEvent(event, data) === 'stop') {
        await reader.cancel();
        return 'stop';
      }
    }
  }
}

/** Opens `path` as an event stream with the key as a Bearer header; a refusal becomes an Error with the gateway's words. */
export async function openStream(path: string, signal: AbortSignal): Promise<Response> {
  const res = await fetch(path, { headers: { authorization: `Bearer ${storedKey()}`, accept: 'text/event-stream' }, signal });
  if (!res.ok) throw await failureOf(res);
  return res;
}

export interface FeedState {
  /** `connecting`, `live`, `ended` or the reason it failed. */
  status: string;
  error?: string;
}

/**
 * Follows a gateway feed (GET /feed/…) while the view is shown: reopened when it ends (its
 * `timeout`) or breaks, until a handler says `stop` or the view goes away. A refusal (4xx) is
 * not retried: the key may not read it, and asking again will not change that.
 */
export function useFeed(path: string | null, onEvent: FeedHandler, deps: unknown[]): FeedState {
  const handler = useRef(onEvent);
  handler.current = onEvent;
  const [state, setState] = useState<FeedState>({ status: 'connecting' });
  useEffect(() => {
    if (!path) return;
    const controller = new AbortController();
    let retryMs = RETRY_MS;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const run = async () => {
      try {
        const res = await openStream(`${path}${path.includes('?') ? '&' : '?'}timeout=${FEED_SECONDS}`, controller.signal);
        setState({ status: 'live' });
        retryMs = RETRY_MS;
        const outcome = await readEvents(res, (event, data) => handler.current(event, JSON.parse(data)));
        if (outcome === 'stop') return setState({ status: 'ended' });
      } catch (err) {
        if (controller.signal.aborted) return;
        const status = (err as { status?: number }).status;
        setState({ status: 'failed', error: messageOf(err) });
        if (status !== undefined && status >= 400 && status < 500 && status !== 429) return;
        retryMs = Math.min(retryMs * 2, 30_000);
      }
      if (!controller.signal.aborted) timer = setTimeout(run, retryMs);
    };
    void run();
    return () => {
      controller.abort();
      clearTimeout(timer);
    };
  }, deps);
  return state;
}

/** Rows gathered this long are rendered together. A timer, not an animation frame: frames stop in a hidden tab. */
const BATCH_MS = 50;

/**
 * Runs `apply` at most once per BATCH_MS with everything that arrived meanwhile, so a thousand
 * rows landing in a second cost twenty renders, not a thousand.
 */
export function useBatched<T>(apply: (items: T[]) => void): (item: T) => void {
  const queue = useRef<T[]>([]);
  const scheduled = useRef(false);
  const applyRef = useRef(apply);
  applyRef.current = apply;
  return (item: T) => {
    queue.current.push(item);
    if (scheduled.current) return;
    scheduled.current = true;
    setTimeout(() => {
      scheduled.current = false;
      applyRef.current(queue.current.splice(0));
    }, BATCH_MS);
  };
}
