import { RolloutLeases, type LeaseBucket } from './rollout-lease';

/**
 * The KV calls the leases make, with JetStream's semantics: create fails on a live key, update only
 * over the revision given, delete with previousSeq only over that revision (leaving a tombstone).
 */
class MemoryBucket {
  readonly entries = new Map<string, { value: string; revision: number; operation: 'PUT' | 'DEL' }>();
  private revision = 0;

  async create(key: string, value: string): Promise<number> {
    if (this.entries.get(key)?.operation === 'PUT') throw new Error('wrong last sequence');
    return this.write(key, value);
  }

  async update(key: string, value: string, revision: number): Promise<number> {
    if (this.entries.get(key)?.revision !== revision) throw new Error('wrong last sequence');
    return this.write(key, value);
  }

  async delete(key: string, opts: { previousSeq: number }): Promise<void> {
    if (this.entries.get(key)?.revision !== opts.previousSeq) throw new Error('wrong last sequence');
    this.entries.set(key, { value: '', revision: ++this.revision, operation: 'DEL' });
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

  holder(key: string): string | undefined {
    const entry = this.entries.get(key);
    return entry?.operation === 'PUT' ? JSON.parse(entry.value).holder : undefined;
  }

  private write(key: string, value: string): number {
    this.entries.set(key, { value, revision: ++this.revision, operation: 'PUT' });
    return this.revision;
  }
}

const LEASE_MS = 10_000;

describe('RolloutLeases', () => {
  let bucket: MemoryBucket;
  let clock: number;
  const replica = (name: string) => new RolloutLeases(bucket as unknown as LeaseBucket, name, { leaseMs: LEASE_MS, now: () => clock });

  beforeEach(() => {
    bucket = new MemoryBucket();
    clock = 1_000_000;
  });

  it('claims a rollout once: a second claim of the same job id is refused', async () => {
    const lease = await replica('a').claim('job-1');
    expect(lease.held()).toBe(true);
    expect(bucket.holder('job-1')).toBe('a');
    await expect(replica('b').claim('job-1')).rejects.toThrow();
    expect(bucket.holder('job-1')).toBe('a');
  });

  it('keeps a renewed lease: its revision changes, so no observer ever finds it expired', async () => {
    const lease = await replica('a').claim('job-1');
    const b = replica('b');
    for (let i = 0; i < 5; i++) {
      expect(await b.expired()).toEqual([]);
      expect(await lease.renew()).toBe(true);
      clock += LEASE_MS / 2;
    }
    expect(await b.expired()).toEqual([]);
  });

  it('finds a lease expired once its revision stayed the same for the lease time, on the observer own clock', async () => {
    await replica('a').claim('job-1');
    const b = replica('b');
    // First sighting: the observer starts counting from now, whatever the lease's age.
    expect(await b.expired()).toEqual([]);
    clock += LEASE_MS - 1;
    expect(await b.expired()).toEqual([]);
    clock += 1;
    expect(await b.expired()).toEqual([{ jobId: 'job-1', revision: expect.any(Number) }]);
  });

  it('takes an expired lease over; the former holder then fails to renew and holds it no more', async () => {
    const old = await replica('a').claim('job-1');
    const b = replica('b');
    await b.expired();
    clock += LEASE_MS;
    const [expired] = await b.expired();
    const taken = await b.takeOver(expired.jobId, expired.revision);
    expect(taken?.held()).toBe(true);
    expect(bucket.holder('job-1')).toBe('b');
    expect(await old.renew()).toBe(false);
    expect(old.held()).toBe(false);
    expect(bucket.holder('job-1')).toBe('b');
  });

  it('lets exactly one of replicas racing for the same expired lease win', async () => {
    await replica('a').claim('job-1');
    const racers = ['b', 'c', 'd'].map(replica);
    for (const racer of racers) await racer.expired();
    clock += LEASE_MS;
    const seen = await Promise.all(racers.map((racer) => racer.expired()));
    const won = await Promise.all(racers.map((racer, i) => racer.takeOver('job-1', seen[i][0].revision)));
    expect(won.filter((lease) => lease !== undefined)).toHaveLength(1);
    expect(['b', 'c', 'd']).toContain(bucket.holder('job-1'));
  });

  it('refuses a takeover at a revision the holder renewed since: the rollout was alive after all', async () => {
    const lease = await replica('a').claim('job-1');
    const b = replica('b');
    await b.expired();
    clock += LEASE_MS;
    const [expired] = await b.expired();
    expect(await lease.renew()).toBe(true);
    expect(await b.takeOver('job-1', expired.revision)).toBeUndefined();
    expect(bucket.holder('job-1')).toBe('a');
  });

  it('releases the key of an ended rollout, so nobody takes it over; a lost lease releases nothing of its taker', async () => {
    const a = replica('a');
    const ended = await a.claim('job-1');
    await ended.release();
    expect(bucket.holder('job-1')).toBeUndefined();
    const b = replica('b');
    await b.expired();
    clock += LEASE_MS;
    expect(await b.expired()).toEqual([]);

    const old = await a.claim('job-2');
    await b.expired();
    clock += LEASE_MS;
    const [expired] = await b.expired();
    await b.takeOver('job-2', expired.revision);
    expect(await old.renew()).toBe(false);
    await old.release();
    expect(bucket.holder('job-2')).toBe('b');
  });
});
