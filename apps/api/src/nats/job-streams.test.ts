import { RetentionPolicy } from '@nats-io/jetstream';
import { JOB_SHARDS, jobShardOf, jobsStreamOf, jobSubject } from '@fleet/contracts/protocol';
import { jobStreamConfig } from './job-streams';

describe('jobStreamConfig', () => {
  it('keeps the names and subjects of the 16 job streams whatever the retention, so agents keep their imports', () => {
    for (const retention of ['workqueue', 'limits'] as const) {
      const configs = Array.from({ length: JOB_SHARDS }, (_, shard) => jobStreamConfig(shard, retention, 1));
      expect(configs.map((c) => c.name)).toEqual(
        Array.from({ length: JOB_SHARDS }, (_, shard) => `FLEET_JOBS_${String(shard).padStart(2, '0')}`),
      );
      expect(configs.map((c) => c.subjects)).toEqual(Array.from({ length: JOB_SHARDS }, (_, shard) => [`fleet.job.s${shard}.*`]));
    }
  });

  it('keeps a dispatch message until its host acks it (workqueue, the default), or an hour acked or not (limits, before)', () => {
    expect(jobStreamConfig(3, 'workqueue', 1).retention).toBe(RetentionPolicy.Workqueue);
    expect(jobStreamConfig(3, 'limits', 3)).toMatchObject({ retention: RetentionPolicy.Limits, num_replicas: 3, max_age: 3600e9 });
  });

  it("puts each host's job subject on its own shard's stream, and only there", () => {
    for (const hostname of ['web-01', 'db-01', 'sim-09999', 'a']) {
      const shard = jobShardOf(hostname);
      expect(jobSubject(hostname)).toBe(`fleet.job.s${shard}.${hostname}`);
      expect(jobStreamConfig(shard, 'workqueue', 1).name).toBe(jobsStreamOf(hostname));
      const owners = Array.from({ length: JOB_SHARDS }, (_, s) => jobStreamConfig(s, 'workqueue', 1)).filter((c) =>
        (c.subjects ?? []).some((pattern) => pattern.replace('*', hostname) === jobSubject(hostname)),
      );
      expect(owners.map((c) => c.name)).toEqual([jobsStreamOf(hostname)]);
    }
  });
});
