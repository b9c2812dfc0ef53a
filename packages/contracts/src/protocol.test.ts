import {
  JOB_SHARDS,
  jobShardOf,
  jobsStreamOf,
  jobSubject,
  kvKeyOf,
  kvStreamName,
  kvSubject,
  parseSecretSubject,
  parseStreamSubject,
  RESULTS_BUCKET,
  resultKey,
  secretSubject,
  streamSubject,
} from './protocol';

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

describe('KV names', () => {
  it("names a bucket's stream and key subjects as the NATS server lays them out", () => {
    expect(kvStreamName(RESULTS_BUCKET)).toBe('KV_fleet_results');
    expect(kvSubject(RESULTS_BUCKET, resultKey('j1', 'web-01'))).toBe('$KV.fleet_results.j1.web-01');
    expect(kvKeyOf(RESULTS_BUCKET, '$KV.fleet_results.j1.web-01')).toBe('j1.web-01');
    expect(kvKeyOf(RESULTS_BUCKET, '$KV.fleet_agents.web-01')).toBeUndefined();
  });
});

describe('per-host subjects', () => {
  it('read back the job and host they were built from', () => {
    expect(parseSecretSubject(secretSubject('j1', 'web-01'))).toEqual({ jobId: 'j1', hostname: 'web-01' });
    expect(parseStreamSubject(streamSubject('j1', 'web-01'))).toEqual({ jobId: 'j1', hostname: 'web-01' });
  });

  it('refuse a subject of another kind or without a host', () => {
    expect(parseSecretSubject(streamSubject('j1', 'web-01'))).toBeUndefined();
    expect(parseStreamSubject('fleet.stream.j1')).toBeUndefined();
    expect(parseStreamSubject('fleet.stream.j1.')).toBeUndefined();
  });
});
