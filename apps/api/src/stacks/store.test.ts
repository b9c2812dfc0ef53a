import { MemoryKv } from '../memory-kv';
import { composeDigest, LISTED_REVISIONS, StackStore, type NewRevision, type StackBucket } from './store';

const COMPOSE = 'services:\n  web:\n    image: nginx:1.27\n';

function revision(name: string, overrides: Partial<NewRevision> = {}): NewRevision {
  return {
    name,
    compose: COMPOSE,
    target: 'role:web',
    on_drift: 'report',
    rollout: { batch: '1' },
    images: ['nginx:1.27'],
    created_by: 'ci',
    job_id: crypto.randomUUID(),
    host_access: false,
    ...overrides,
  };
}

describe('StackStore', () => {
  let bucket: MemoryKv;
  let store: StackStore;
  beforeEach(() => {
    bucket = new MemoryKv();
    store = new StackStore(bucket as unknown as StackBucket);
  });

  it('numbers revisions from 1, keeps each compose text as given with its digest, and makes the newest current', async () => {
    const first = await store.addRevision(revision('web'));
    const second = await store.addRevision(revision('web', { compose: `${COMPOSE}# v2\n`, target: 'role:web,zone:eu' }));
    expect([first.revision, second.revision]).toEqual([1, 2]);
    expect((await store.revision('web', 1))?.compose).toBe(COMPOSE);
    expect((await store.revision('web', 2))?.digest).toBe(composeDigest(`${COMPOSE}# v2\n`));
    const head = await store.get('web');
    expect(head).toMatchObject({ name: 'web', revision: 2, target: 'role:web,zone:eu' });
    expect(head?.revisions.map((listed) => listed.revision)).toEqual([2, 1]);
  });

  it('gives two concurrent calls two numbers, and the head lists both', async () => {
    const [a, b] = await Promise.all([store.addRevision(revision('web')), store.addRevision(revision('web'))]);
    expect([a.revision, b.revision].sort()).toEqual([1, 2]);
    expect((await store.get('web'))?.revisions.map((listed) => listed.revision)).toEqual([2, 1]);
  });

  it('marks a removed stack without deleting anything, and a later revision goes on from the next number', async () => {
    await store.addRevision(revision('web'));
    expect((await store.markRemoved('web', 'ops', undefined))?.removed?.by).toBe('ops');
    expect(await store.markRemoved('web', 'ops', undefined)).toBeUndefined();
    expect([...bucket.entries.values()].every((entry) => entry.operation === 'PUT')).toBe(true);
    const again = await store.addRevision(revision('web'));
    expect(again.revision).toBe(2);
    expect((await store.get('web'))?.removed).toBeUndefined();
  });

  it('lists only heads, by name, and lists at most LISTED_REVISIONS revisions of a stack, newest first', async () => {
    await store.addRevision(revision('db'));
    for (let i = 0; i < LISTED_REVISIONS + 2; i++) await store.addRevision(revision('web'));
    expect((await store.list()).map((stack) => stack.name)).toEqual(['db', 'web']);
    const listed = (await store.get('web'))?.revisions ?? [];
    expect(listed).toHaveLength(LISTED_REVISIONS);
    expect(listed[0].revision).toBe(LISTED_REVISIONS + 2);
    expect((await store.revision('web', 1))?.revision).toBe(1);
  });

  it('lets one of two replicas take a host claim read at the same version', async () => {
    const claim = { revision: 1, job_id: 'j', until: 10, retry_after: 10, attempts: 1 };
    const taken = await store.takeClaim('web', 'web-01', claim, 0);
    expect(taken).toBeGreaterThan(0);
    expect(await store.takeClaim('web', 'web-01', claim, 0)).toBeUndefined();
    const read = await store.claimOf('web', 'web-01');
    expect(read).toEqual({ claim, version: taken });
    expect(await store.takeClaim('web', 'web-01', { ...claim, attempts: 2 }, read!.version)).toBeGreaterThan(taken!);
    expect(await store.takeClaim('web', 'web-01', { ...claim, attempts: 3 }, read!.version)).toBeUndefined();
    expect((await store.claimOf('web', 'web-01'))?.claim.attempts).toBe(2);
  });
});
