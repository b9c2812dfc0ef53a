import { LongRunningLimitError } from './job-errors';

/** What a caller over its limit is told to wait before trying again. */
const RETRY_AFTER_SECONDS = 5;

/**
 * Per API key, per gateway replica: how many long-running jobs (waits, events, execs, streams) one
 * key may have open at once, so a single key cannot park calls on a host until its deadline and
 * hold its engine slots (README "Limits"). Over the limit: 429 with Retry-After.
 */
export class KeySlots {
  private readonly open = new Map<string, number>();

  constructor(private readonly perKey: number) {}

  /** Takes a slot for `keyId` and returns its release (idempotent); throws 429 when the key has none left. */
  take(keyId: string): () => void {
    if (this.perKey === 0) return () => undefined;
    const held = this.open.get(keyId) ?? 0;
    if (held >= this.perKey) {
      throw new LongRunningLimitError(
        `this API key already has ${held} long-running calls open (limit ${this.perKey}, FLEET_LONG_RUNNING_PER_KEY); retry when one ends`,
        RETRY_AFTER_SECONDS,
      );
    }
    this.open.set(keyId, held + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.open.get(keyId) ?? 1) - 1;
      if (left <= 0) this.open.delete(keyId);
      else this.open.set(keyId, left);
    };
  }
}
