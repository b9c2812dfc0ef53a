import { JOB_SHARDS, jobShardOf, jobsStreamOf, jobSubject } from './protocol';

describe('job shards', () => {
  it('puts a host on one stream and subject, the same in every process', () => {
    const shard = jobShardOf('web-01');
    expect(shard).toBeGreaterThanOrEqual(0);
    expect(shard).toBeLessThan(JOB_SHARDS);
    expect(jobSubject('web-01')).toBe(`fleet.job.s${shard}.web-01`);
    expect(jobsStreamOf('web-01')).toBe(`FLEET_JOBS_${String(shard).padStart(2, '0')}`);
    // Gateways and agents of one fleet must agree: the hash is part of the wire protocol.
    expect(['web-01', 'web-02', 'db-01', 'a'].map(jobShardOf)).toEqual([7, 10, 13, 12]);
  });

  it('spreads a fleet evenly over the shards', () => {
    const perShard = new Array<number>(JOB_SHARDS).fill(0);
    for (let i = 0; i < 5000; i++) perShard[jobShardOf(`host-${String(i).padStart(5, '0')}`)]++;
    const mean = 5000 / JOB_SHARDS;
    for (const count of perShard) expect(Math.abs(count - mean) / mean).toBeLessThan(0.2);
  });
});
