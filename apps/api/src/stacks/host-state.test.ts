import { countStates, hostState, MAX_REPORTED_STACKS, reportedStacks } from './host-state';

describe('reportedStacks', () => {
  it('keeps well-formed entries and leaves out what an agent does not write', () => {
    const heartbeat = {
      stacks: [
        { name: 'web', revision: 2, state: 'drifted', drift: [{ service: 'web', what: 'stopped' }, { bad: 1 }], checked_at: 'now' },
        { name: 'Bad Name', revision: 1, state: 'in_sync' },
        { name: 'db', revision: -1, state: 'in_sync' },
        { name: 'x', revision: 1, state: 'owned' },
        null,
        'web',
      ],
    };
    expect(reportedStacks(heartbeat)).toEqual([
      { name: 'web', revision: 2, state: 'drifted', drift: [{ service: 'web', what: 'stopped' }], checked_at: 'now' },
    ]);
    expect(reportedStacks({ stacks: 'web' })).toEqual([]);
    expect(reportedStacks(undefined)).toEqual([]);
  });

  it('reads at most MAX_REPORTED_STACKS entries and cuts long texts', () => {
    const many = Array.from({ length: MAX_REPORTED_STACKS + 10 }, (_, i) => ({
      name: `s${i}`,
      revision: 1,
      state: 'failed',
      error: 'e'.repeat(5000),
    }));
    const read = reportedStacks({ stacks: many });
    expect(read).toHaveLength(MAX_REPORTED_STACKS);
    expect(read[0].error).toHaveLength(1024);
  });
});

describe('hostState', () => {
  const report = { name: 'web', revision: 3, state: 'in_sync' as const };
  it('is offline when the agent is not live, whatever it last said', () => {
    expect(hostState({ hostname: 'a', live: false, reported: report }, 3)).toEqual({ hostname: 'a', state: 'offline', revision: 3 });
  });
  it("is the host's own report of the current revision", () => {
    expect(hostState({ hostname: 'a', live: true, reported: report }, 3).state).toBe('in_sync');
    const drifted = { ...report, state: 'drifted' as const, drift: [{ service: 'web', what: 'removed' }] };
    expect(hostState({ hostname: 'a', live: true, reported: drifted }, 3)).toMatchObject({ state: 'drifted', drift: drifted.drift });
  });
  it('is failed when the revision failed its health gate there, though the engine reached the revision', () => {
    const gated = {
      hostname: 'a',
      status: 'failed' as const,
      changed: true,
      gate: 'a-web-1: unhealthy',
      error: 'health gate failed: a-web-1: unhealthy',
    };
    expect(hostState({ hostname: 'a', live: true, reported: report, row: gated }, 3)).toEqual({
      hostname: 'a',
      state: 'failed',
      revision: 3,
      error: 'health gate failed: a-web-1: unhealthy',
    });
    const applyFailed = { hostname: 'a', status: 'failed' as const, changed: false, error: 'pull failed' };
    expect(hostState({ hostname: 'a', live: true, reported: report, row: applyFailed }, 3).state).toBe('in_sync');
  });
  it("is failed when the revision's rollout failed there, pending otherwise", () => {
    const row = { hostname: 'a', status: 'failed' as const, changed: false, error: 'gate failed' };
    expect(hostState({ hostname: 'a', live: true, reported: { ...report, revision: 2 }, row }, 3)).toEqual({
      hostname: 'a',
      state: 'failed',
      revision: 2,
      error: 'gate failed',
    });
    expect(hostState({ hostname: 'a', live: true }, 3)).toEqual({ hostname: 'a', state: 'pending' });
    expect(
      countStates([
        { hostname: 'a', state: 'pending' },
        { hostname: 'b', state: 'offline' },
      ]),
    ).toEqual({
      in_sync: 0,
      drifted: 0,
      pending: 1,
      failed: 0,
      offline: 1,
    });
  });
});
