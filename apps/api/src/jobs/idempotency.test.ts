import { MemoryKv } from '../memory-kv';
import { IdempotencyKeys, requestDigest } from './idempotency';

const restart = { operation: 'docker.container.restart', target: 'role:web', params: { id: 'app', t: 1 } };

describe('requestDigest', () => {
  it('is the same for the same request whatever the order of its fields', () => {
    const operation = 'docker.container.create';
    const create = { operation, target: '_all', params: { name: 'app', body: { Image: 'busybox', Cmd: ['sleep', '60'] } } };
    const reordered = { target: '_all', params: { body: { Cmd: ['sleep', '60'], Image: 'busybox' }, name: 'app' }, operation };
    expect(requestDigest(reordered)).toBe(requestDigest(create));
  });

  it('differs when the operation, target, a parameter, the credential or the file body differs', () => {
    const digest = requestDigest(restart);
    expect(requestDigest({ ...restart, operation: 'docker.container.stop' })).not.toBe(digest);
    expect(requestDigest({ ...restart, target: 'role:db' })).not.toBe(digest);
    expect(requestDigest({ ...restart, params: { id: 'app', t: 2 } })).not.toBe(digest);
    expect(requestDigest({ ...restart, secret: 'a' })).not.toBe(requestDigest({ ...restart, secret: 'b' }));
    expect(requestDigest({ ...restart, uploadDigest: 'SHA-256=a' })).not.toBe(requestDigest({ ...restart, uploadDigest: 'SHA-256=b' }));
  });

  it('is a SHA-256 in hex: no parameter or credential value appears in what is stored', () => {
    expect(requestDigest({ ...restart, secret: 'hunter2' })).toMatch(/^[0-9a-f]{64}$/);
  });

  it('refuses parameters nested too deep to digest with a 400, not a crash', () => {
    let deep: Record<string, unknown> = {};
    for (let i = 0; i < 100_000; i++) deep = { a: deep };
    expect(() => requestDigest({ ...restart, params: deep })).toThrow(expect.objectContaining({ status: 400 }));
  });
});

/** Backdates every claim in the bucket, as if each was made `ms` ago. */
function age(bucket: MemoryKv, ms: number): void {
  for (const [key, entry] of bucket.entries) {
    if (entry.operation !== 'PUT') continue;
    const claim = JSON.parse(entry.value);
    const claimedAt = new Date(Date.parse(claim.claimed_at) - ms).toISOString();
    bucket.entries.set(key, { ...entry, value: JSON.stringify({ ...claim, claimed_at: claimedAt }) });
  }
}

describe('IdempotencyKeys', () => {
  const caller = { sub: 'ci', jti: 'key-1' };
  let bucket: MemoryKv;
  let stored: Set<string>;
  let keys: IdempotencyKeys;

  beforeEach(() => {
    bucket = new MemoryKv();
    stored = new Set();
    const records = { getRecord: async (jobId: string) => (stored.has(jobId) ? ({ job_id: jobId } as never) : undefined) };
    keys = new IdempotencyKeys(bucket as never, records);
  });

  it('gives the key to the first call, and its job to a retry once the job is stored', async () => {
    const first = await keys.claim(caller, 'k', restart);
    expect(first.replay).toBe(false);
    stored.add(first.jobId);
    expect(await keys.claim(caller, 'k', restart)).toEqual({ replay: true, jobId: first.jobId });
  });

  it('keeps one key per API key: another key id or subject gets a claim of its own', async () => {
    const first = await keys.claim(caller, 'k', restart);
    stored.add(first.jobId);
    expect((await keys.claim({ sub: 'ci', jti: 'key-2' }, 'k', restart)).replay).toBe(false);
    expect((await keys.claim({ sub: 'other', jti: 'key-1' }, 'k', restart)).replay).toBe(false);
  });

  it('answers 422 for the same key with another request', async () => {
    await keys.claim(caller, 'k', restart);
    await expect(keys.claim(caller, 'k', { ...restart, target: 'role:db' })).rejects.toMatchObject({ status: 422 });
  });

  it('frees a released key for the next call', async () => {
    const first = await keys.claim(caller, 'k', restart);
    if (first.replay) throw new Error('the first call must get the key');
    await first.release();
    expect((await keys.claim(caller, 'k', restart)).replay).toBe(false);
  });

  it('answers 409 while the first call has not stored its job, and lets a retry take over a claim abandoned for 30 s', async () => {
    const first = await keys.claim(caller, 'k', restart);
    await expect(keys.claim(caller, 'k', restart)).rejects.toMatchObject({ status: 409, headers: { 'retry-after': '3' } });
    age(bucket, 31_000);
    const taken = await keys.claim(caller, 'k', restart);
    expect(taken.replay).toBe(false);
    expect(taken.jobId).not.toBe(first.jobId);
    // The first call, should it still be alive, cannot free the key it lost.
    if (!first.replay) await first.release();
    stored.add(taken.jobId);
    expect(await keys.claim(caller, 'k', restart)).toEqual({ replay: true, jobId: taken.jobId });
  }, 20_000);

  it('never starts a second job for a key whose job started and has since expired', async () => {
    const first = await keys.claim(caller, 'k', restart);
    if (first.replay) throw new Error('the first call must get the key');
    await first.started();
    age(bucket, 3_600_000);
    expect(await keys.claim(caller, 'k', restart)).toEqual({ replay: true, jobId: first.jobId });
  });
});
