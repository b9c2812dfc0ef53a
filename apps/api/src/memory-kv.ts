/** One key's last write, as JetStream's KV keeps it: a delete leaves a tombstone with its own revision. */
export interface MemoryKvEntry {
  value: string;
  revision: number;
  operation: 'PUT' | 'DEL';
}

/**
 * A JetStream KV bucket in memory, for unit tests: the calls the gateway's buckets make, with JetStream's
 * semantics. Create fails on a live key, update only over the revision given, delete with previousSeq only over
 * that revision (leaving a tombstone); every write is heard by the listeners following the bucket.
 */
export class MemoryKv {
  readonly entries = new Map<string, MemoryKvEntry>();
  private readonly listeners: Array<(key: string, deleted: boolean) => void> = [];
  private revision = 0;

  /** Hears every write, as a replica following the bucket's subjects does. */
  follow(listener: (key: string, deleted: boolean) => void): void {
    this.listeners.push(listener);
  }

  async create(key: string, value: string): Promise<number> {
    if (this.entries.get(key)?.operation === 'PUT') throw new Error('wrong last sequence');
    return this.write(key, value, 'PUT');
  }

  async update(key: string, value: string, revision: number): Promise<number> {
    if (this.entries.get(key)?.revision !== revision) throw new Error('wrong last sequence');
    return this.write(key, value, 'PUT');
  }

  async delete(key: string, opts: { previousSeq: number }): Promise<void> {
    if (this.entries.get(key)?.revision !== opts.previousSeq) throw new Error('wrong last sequence');
    this.write(key, '', 'DEL');
  }

  async get(key: string) {
    const entry = this.entries.get(key);
    return entry ? { ...entry, json: <T>() => JSON.parse(entry.value) as T } : null;
  }

  async keys(): Promise<AsyncIterable<string>> {
    const live = [...this.entries].filter(([, entry]) => entry.operation === 'PUT').map(([key]) => key);
    return (async function* () {
      yield* live;
    })();
  }

  /** The live value of a key, parsed; undefined once deleted or never written. */
  live<T>(key: string): T | undefined {
    const entry = this.entries.get(key);
    return entry?.operation === 'PUT' ? (JSON.parse(entry.value) as T) : undefined;
  }

  private write(key: string, value: string, operation: MemoryKvEntry['operation']): number {
    this.entries.set(key, { value, revision: ++this.revision, operation });
    for (const listener of this.listeners) listener(key, operation === 'DEL');
    return this.revision;
  }
}
