import type { Rollout } from '@fleet/contracts/protocol';
import { rolloutEvents } from '@fleet/contracts/rollout-events';
import { planRollout } from './rollout-plan';

const plan = (): Rollout => planRollout(['a', 'b', 'c'], { batch: '1', pauseSeconds: 1, order: 'hostname', health: { check: 'healthy' } });

describe('rolloutEvents', () => {
  it('announces a wave starting, then its gate result and the pause after it', () => {
    const before = plan();
    const running = structuredClone(before);
    running.waves[0].state = 'running';
    expect(rolloutEvents(before, running)).toEqual([{ event: 'wave_started', wave: 1, hosts: ['a'] }]);
    const paused = structuredClone(running);
    paused.waves[0].state = 'passed';
    paused.paused_until = '2026-01-01T00:00:01.000Z';
    expect(rolloutEvents(running, paused)).toEqual([
      { event: 'wave_ended', wave: 1, state: 'passed', failed: [], gate: 'healthy' },
      { event: 'paused', until: '2026-01-01T00:00:01.000Z' },
    ]);
  });

  it('announces a missed save too: a wave that started and ended in between, then the stop', () => {
    const before = plan();
    const stopped = structuredClone(before);
    stopped.waves[0].state = 'failed';
    stopped.waves[0].failed = ['a'];
    stopped.waves[1].state = 'skipped';
    stopped.waves[2].state = 'skipped';
    stopped.state = 'stopped';
    stopped.failures = 1;
    stopped.stop_reason = 'why';
    expect(rolloutEvents(before, stopped)).toEqual([
      { event: 'wave_started', wave: 1, hosts: ['a'] },
      { event: 'wave_ended', wave: 1, state: 'failed', failed: ['a'], gate: 'healthy' },
      { event: 'stopped', reason: 'why', failures: 1 },
    ]);
  });

  it('announces a hold, its resume and an abort', () => {
    const before = plan();
    const held = { ...structuredClone(before), paused_by: 'alice' };
    expect(rolloutEvents(before, held)).toEqual([{ event: 'held', by: 'alice' }]);
    expect(rolloutEvents(held, before)).toEqual([{ event: 'resumed' }]);
    const aborted: Rollout = { ...structuredClone(before), state: 'aborted', stop_reason: 'rollout aborted before wave 2 of 3 by bob' };
    expect(rolloutEvents(held, aborted)).toEqual([{ event: 'aborted', reason: 'rollout aborted before wave 2 of 3 by bob' }]);
  });

  it('announces nothing for a save that changed nothing, and the completion once', () => {
    const done = plan();
    done.waves.forEach((wave) => (wave.state = 'passed'));
    done.state = 'completed';
    expect(rolloutEvents(done, structuredClone(done))).toEqual([]);
    const last = structuredClone(done);
    last.state = 'running';
    expect(rolloutEvents(last, done)).toEqual([{ event: 'completed', failures: 0 }]);
  });
});
