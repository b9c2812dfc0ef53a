import { RolloutLeases, type LeaseBucket } from './rollout-lease';

/**
 * The KV calls the leases make, with JetStream's semantics: create fails on a live key, update only
 * over the revision given, delete with previousSeq only over that revision (leaving a tombstone); every
 * write is heard by the replicas following the bucket.
 */
class MemoryBucket {
  /** The replicas following the bucket's writes (the gateway's core subscription on its subjects). */
  readonly followers: RolloutLeases[] = [];
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
    for (const follower of this.followers) follower.heard(key, true);
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
    for (const follower of this.followers) follower.heard(key, false);
    return this.revision;
  }
}

const LEASE_MS = 10_000;

describe('RolloutLeases', () => {
  let bucket: MemoryBucket;
  let clock: number;
  const replica = (name: string) => {
    const leases = new RolloutLeases(bucket as unknown as LeaseBucket, name, { leaseMs: LEASE_MS, now: () => clock });
    bucket.followers.push(leases);
    return leases;
  };

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

  it('keeps a renewed lease: each renewal is heard, so no replica ever finds it expired', async () => {
    const b = replica('b');
    const lease = await replica('a').claim('job-1');
    for (let i = 0; i < 5; i++) {
      clock += LEASE_MS / 2;
      expect(await b.expired()).toEqual([]);
      expect(await lease.renew()).toBe(true);
    }
    expect(await b.expired()).toEqual([]);
  });

  it('finds a lease expired once not written for the lease time on its own clock, with the revision to take it at', async () => {
    const b = replica('b');
    await replica('a').claim('job-1');
    clock += LEASE_MS - 1;
    expect(await b.expired()).toEqual([]);
    clock += 1;
    expect(await b.expired()).toEqual([{ jobId: 'job-1', revision: bucket.entries.get('job-1')?.revision }]);
  });

  it('counts the leases already in the bucket as heard when it starts: a replica starting late takes none over at once', async () => {
    await replica('a').claim('job-1');
    clock += 5 * LEASE_MS;
    const late = new RolloutLeases(bucket as unknown as LeaseBucket, 'late', { leaseMs: LEASE_MS, now: () => clock });
    await late.reload();
    expect(await late.expired()).toEqual([]);
    clock += LEASE_MS;
    expect((await late.expired()).map((lease) => lease.jobId)).toEqual(['job-1']);
  });

  it('takes an expired lease over; the former holder then fails to renew and holds it no more', async () => {
    const b = replica('b');
    const old = await replica('a').claim('job-1');
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
    const racers = ['b', 'c', 'd'].map(replica);
    await replica('a').claim('job-1');
    clock += LEASE_MS;
    const seen = await Promise.all(racers.map((racer) => racer.expired()));
    const won = await Promise.all(racers.map((racer, i) => racer.takeOver('job-1', seen[i][0].revision)));
    expect(won.filter((lease) => lease !== undefined)).toHaveLength(1);
    expect(['b', 'c', 'd']).toContain(bucket.holder('job-1'));
    // The winner's write is heard by the others: none finds the lease expired any more.
    for (const racer of racers) expect(await racer.expired()).toEqual([]);
  });

  it('refuses a takeover at a revision the holder renewed since: the rollout was alive after all', async () => {
    const b = replica('b');
    const lease = await replica('a').claim('job-1');
    clock += LEASE_MS;
    const [expired] = await b.expired();
    expect(await lease.renew()).toBe(true);
    expect(await b.takeOver('job-1', expired.revision)).toBeUndefined();
    expect(bucket.holder('job-1')).toBe('a');
  });

  it('releases the key of an ended rollout, so nobody takes it over; a lost lease releases nothing of its taker', async () => {
    const a = replica('a');
    const b = replica('b');
    const ended = await a.claim('job-1');
    await ended.release();
    expect(bucket.holder('job-1')).toBeUndefined();
    clock += LEASE_MS;
    expect(await b.expired()).toEqual([]);

    const old = await a.claim('job-2');
    clock += LEASE_MS;
    const [expired] = await b.expired();
    await b.takeOver('job-2', expired.revision);
    expect(await old.renew()).toBe(false);
    await old.release();
    expect(bucket.holder('job-2')).toBe('b');
  });
});
