import { MemoryKv } from '../memory-kv';
import { RolloutLeases, type LeaseBucket } from './rollout-lease';

const LEASE_MS = 10_000;

describe('RolloutLeases', () => {
  let bucket: MemoryKv;
  let clock: number;
  const replica = (name: string) => {
    const leases = new RolloutLeases(bucket as unknown as LeaseBucket, name, { leaseMs: LEASE_MS, now: () => clock });
    bucket.follow((key, deleted) => leases.heard(key, deleted));
    return leases;
  };
  const holder = (jobId: string) => bucket.live<{ holder: string }>(jobId)?.holder;

  beforeEach(() => {
    bucket = new MemoryKv();
    clock = 1_000_000;
  });

  it('claims a rollout once: a second claim of the same job id is refused', async () => {
    const lease = await replica('a').claim('job-1');
    expect(lease.held()).toBe(true);
    expect(holder('job-1')).toBe('a');
    await expect(replica('b').claim('job-1')).rejects.toThrow();
    expect(holder('job-1')).toBe('a');
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
    expect(holder('job-1')).toBe('b');
    expect(await old.renew()).toBe(false);
    expect(old.held()).toBe(false);
    expect(holder('job-1')).toBe('b');
  });

  it('lets exactly one of replicas racing for the same expired lease win', async () => {
    const racers = ['b', 'c', 'd'].map(replica);
    await replica('a').claim('job-1');
    clock += LEASE_MS;
    const seen = await Promise.all(racers.map((racer) => racer.expired()));
    const won = await Promise.all(racers.map((racer, i) => racer.takeOver('job-1', seen[i][0].revision)));
    expect(won.filter((lease) => lease !== undefined)).toHaveLength(1);
    expect(['b', 'c', 'd']).toContain(holder('job-1'));
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
    expect(holder('job-1')).toBe('a');
  });

  it('releases the key of an ended rollout, so nobody takes it over; a lost lease releases nothing of its taker', async () => {
    const a = replica('a');
    const b = replica('b');
    const ended = await a.claim('job-1');
    await ended.release();
    expect(holder('job-1')).toBeUndefined();
    clock += LEASE_MS;
    expect(await b.expired()).toEqual([]);

    const old = await a.claim('job-2');
    clock += LEASE_MS;
    const [expired] = await b.expired();
    await b.takeOver('job-2', expired.revision);
    expect(await old.renew()).toBe(false);
    await old.release();
    expect(holder('job-2')).toBe('b');
  });
});
