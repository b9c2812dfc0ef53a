import type { JetStreamManager } from '@nats-io/jetstream';

export interface Page<T> {
  items: T[];
  next_cursor?: string;
}

/** One page request reads at most this many messages, so a selective filter cannot make it expensive. */
const MAX_SCAN = 1000;

/**
 * Pages through a stream newest first. `cursor` is a stream sequence: the page
 * starts at or below it, and `next_cursor` says where the next (older) page
 * starts. Messages aged out by retention are skipped.
 */
export async function scanNewestFirst<T>(
  jsm: JetStreamManager,
  stream: string,
  opts: { limit: number; cursor?: number; accept: (item: T) => boolean | Promise<boolean> },
): Promise<Page<T>> {
  const { state } = await jsm.streams.info(stream);
  const items: T[] = [];
  let seq = Math.min(opts.cursor ?? state.last_seq, state.last_seq);
  for (let scanned = 0; seq >= state.first_seq && seq > 0 && items.length < opts.limit && scanned < MAX_SCAN; seq--, scanned++) {
    const msg = await jsm.streams.getMessage(stream, { seq }).catch(() => null);
    if (!msg) continue;
    const item = msg.json<T>();
    if (await opts.accept(item)) items.push(item);
  }
  return seq >= state.first_seq && seq > 0 ? { items, next_cursor: String(seq) } : { items };
}
