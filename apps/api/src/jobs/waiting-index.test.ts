import { parseTarget } from '@fleet/contracts/grammar';
import { WaitingIndex, type WaitingJob } from './waiting-index';

const now = 1_000_000;
const job = (jobId: string, target: string, until = now + 60_000): WaitingJob => ({ jobId, target: parseTarget(target), until });
const ids = (jobs: WaitingJob[]) => jobs.map((found) => found.jobId).sort();

describe('WaitingIndex', () => {
  it('finds a hostname job for that host only', () => {
    const index = new WaitingIndex();
    index.add(job('j1', 'edge-1'));
    expect(ids(index.candidates('edge-1', {}, now))).toEqual(['j1']);
    expect(ids(index.candidates('edge-2', {}, now))).toEqual([]);
  });

  it('finds a label job for hosts whose labels match all its selectors, prefixes included', () => {
    const index = new WaitingIndex();
    index.add(job('web-eu', 'role:web,zone:eu'));
    expect(ids(index.candidates('h1', { role: 'web', zone: 'eu.west' }, now))).toEqual(['web-eu']);
    expect(ids(index.candidates('h2', { role: 'web', zone: 'us' }, now))).toEqual([]);
    expect(ids(index.candidates('h3', { zone: 'eu' }, now))).toEqual([]);
  });

  it('finds an _all job for every host', () => {
    const index = new WaitingIndex();
    index.add(job('all', '_all'));
    expect(ids(index.candidates('anything', {}, now))).toEqual(['all']);
  });

  it('leaves out a host the job was delivered to, until that delivery is forgotten', () => {
    const index = new WaitingIndex();
    index.add(job('j1', 'role:web'));
    index.markDelivered('j1', 'h1');
    expect(ids(index.candidates('h1', { role: 'web' }, now))).toEqual([]);
    expect(ids(index.candidates('h2', { role: 'web' }, now))).toEqual(['j1']);
    index.unmarkDelivered('j1', 'h1');
    expect(ids(index.candidates('h1', { role: 'web' }, now))).toEqual(['j1']);
  });

  it('keeps a delivery heard before its job', () => {
    const index = new WaitingIndex();
    index.markDelivered('j1', 'h1');
    index.add(job('j1', 'h1'));
    expect(index.candidates('h1', {}, now)).toEqual([]);
  });

  it('stops offering a job once its wait is over, and lists it as ended', () => {
    const index = new WaitingIndex();
    index.add(job('short', 'h1', now + 1));
    index.add(job('long', 'h1', now + 10_000));
    expect(ids(index.candidates('h1', {}, now + 1))).toEqual(['long']);
    expect(ids(index.ended(now + 1))).toEqual(['short']);
  });

  it('forgets a removed job under every key it was indexed by', () => {
    const index = new WaitingIndex();
    index.add(job('host', 'h1'));
    index.add(job('labels', 'role:web'));
    index.add(job('all', '_all'));
    for (const id of ['host', 'labels', 'all']) index.remove(id);
    expect(index.size).toBe(0);
    expect(index.candidates('h1', { role: 'web' }, now)).toEqual([]);
  });

  it("finds only the host's own job among 10,000 waiting under other label keys", () => {
    const index = new WaitingIndex();
    for (let i = 0; i < 10_000; i++) index.add(job(`other-${i}`, `site:s${i}`));
    index.add(job('mine', 'role:db'));
    expect(ids(index.candidates('db-1', { role: 'db' }, now))).toEqual(['mine']);
  });
});
