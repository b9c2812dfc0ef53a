import {
  failureBudget,
  orderHosts,
  planRollout,
  rolloutControls,
  RolloutParamsError,
  waveSize,
  type RolloutControls,
} from './rollout-plan';

const hosts = (n: number) => Array.from({ length: n }, (_, i) => `h${String(i).padStart(4, '0')}`);
const controls = (over: Partial<RolloutControls>): RolloutControls => ({ pauseSeconds: 0, order: 'hostname', ...over });

describe('waveSize', () => {
  it('takes a count as is, capped at the hosts there are', () => {
    expect(waveSize('2', 10)).toBe(2);
    expect(waveSize('50', 10)).toBe(10);
  });

  it('rounds a percentage up, and never below one host', () => {
    expect(waveSize('25%', 10)).toBe(3);
    expect(waveSize('10%', 1000)).toBe(100);
    expect(waveSize('1%', 3)).toBe(1);
    expect(waveSize('100%', 7)).toBe(7);
  });
});

describe('failureBudget', () => {
  it('is 0 when absent: the first failure stops', () => {
    expect(failureBudget(undefined, 100)).toBe(0);
  });

  it('takes a count as is', () => {
    expect(failureBudget('3', 100)).toBe(3);
  });

  it('rounds a percentage down, so 2% of 1,000 tolerates 20 and 2% of 30 tolerates none', () => {
    expect(failureBudget('2%', 1000)).toBe(20);
    expect(failureBudget('2%', 30)).toBe(0);
    expect(failureBudget('50%', 5)).toBe(2);
  });
});

describe('orderHosts', () => {
  it('sorts by hostname by default', () => {
    expect(orderHosts(['web-2', 'db-1', 'web-10'], 'hostname', '')).toEqual(['db-1', 'web-10', 'web-2']);
  });

  it('shuffles by the seed: the same seed gives the same order, another seed another', () => {
    const first = orderHosts(hosts(50), 'random', 'abc');
    expect(orderHosts([...hosts(50)].reverse(), 'random', 'abc')).toEqual(first);
    expect(orderHosts(hosts(50), 'random', 'abd')).not.toEqual(first);
    expect([...first].sort()).toEqual(hosts(50));
  });
});

describe('planRollout', () => {
  it('splits the ordered hosts into waves of batch, the last one shorter', () => {
    const plan = planRollout(hosts(5), controls({ batch: '2' }));
    expect(plan.waves.map((wave) => wave.hosts)).toEqual([['h0000', 'h0001'], ['h0002', 'h0003'], ['h0004']]);
    expect(plan.waves.map((wave) => wave.wave)).toEqual([1, 2, 3]);
    expect(plan.waves.every((wave) => wave.state === 'pending')).toBe(true);
  });

  it('runs the canary wave alone first, then batches of the rest', () => {
    const plan = planRollout(hosts(7), controls({ canary: '1', batch: '50%' }));
    expect(plan.waves.map((wave) => wave.hosts.length)).toEqual([1, 4, 2]);
    expect(plan.waves[0].canary).toBe(true);
    expect(plan.waves[1].canary).toBeUndefined();
  });

  it('without batch, runs everything after the canary in one wave', () => {
    expect(planRollout(hosts(4), controls({ canary: '25%' })).waves.map((wave) => wave.hosts.length)).toEqual([1, 3]);
    expect(planRollout(hosts(4), controls({ maxFailures: '1' })).waves.map((wave) => wave.hosts.length)).toEqual([4]);
  });

  it('resolves max_failures against the resolved hosts: 10% batches and 2% failures of 1,000 hosts', () => {
    const plan = planRollout(hosts(1000), controls({ batch: '10%', maxFailures: '2%' }));
    expect(plan.waves).toHaveLength(10);
    expect(plan.max_failures).toBe(20);
    expect(plan.failures).toBe(0);
    expect(plan.state).toBe('running');
  });

  it('refuses a plan of more than 1,000 waves', () => {
    expect(planRollout(hosts(1000), controls({ batch: '1' })).waves).toHaveLength(1000);
    expect(() => planRollout(hosts(1001), controls({ batch: '1' }))).toThrow(RolloutParamsError);
  });

  it('records the seed of order=random, choosing one when none was given', () => {
    const given = planRollout(hosts(10), controls({ order: 'random', seed: 's1', batch: '3' }));
    expect(given.seed).toBe('s1');
    expect(given.waves.flatMap((wave) => wave.hosts)).toEqual(orderHosts(hosts(10), 'random', 's1'));
    const chosen = planRollout(hosts(10), controls({ order: 'random' }));
    expect(chosen.seed).toMatch(/^[0-9a-f]{16}$/);
    expect(planRollout(hosts(10), controls({})).seed).toBeUndefined();
  });
});

describe('rolloutControls', () => {
  it('is undefined without a wave parameter: the call runs everywhere at once', () => {
    expect(rolloutControls({ timeout: 30, async: false, dry_run: true })).toBeUndefined();
  });

  it('reads each parameter and the gates', () => {
    expect(rolloutControls({ batch: '2', max_failures: '1', pause: 3, health: 'running', health_delay: 2 })).toEqual({
      batch: '2',
      canary: undefined,
      maxFailures: '1',
      pauseSeconds: 3,
      health: { check: 'running', delay_seconds: 2 },
      order: 'hostname',
      seed: undefined,
    });
    expect(rolloutControls({ health: 'running' })?.health).toEqual({ check: 'running', delay_seconds: 5 });
    expect(rolloutControls({ health: 'healthy' })?.health).toEqual({ check: 'healthy' });
    expect(rolloutControls({ health_cmd: ' test  -f /ready ' })?.health).toEqual({ check: 'exec', cmd: ['test', '-f', '/ready'] });
  });

  it('refuses parameters that contradict', () => {
    expect(() => rolloutControls({ health: 'healthy', health_cmd: 'true' })).toThrow(RolloutParamsError);
    expect(() => rolloutControls({ health: 'healthy', health_delay: 3 })).toThrow(RolloutParamsError);
    expect(() => rolloutControls({ batch: '1', seed: 'x' })).toThrow(RolloutParamsError);
    expect(() => rolloutControls({ seed: 'x' })).toThrow(RolloutParamsError);
  });
});
