import type { AgentView } from '../agents/roster';
import { type AgentDirectory, type TargetFailure, TargetError, TargetResolver } from './resolve';

function agent(hostname: string, labels: Record<string, string>, drained = false): AgentView {
  return {
    hostname,
    labels,
    requested_labels: labels,
    enrollment: 'accepted',
    drained,
    live: true,
    agent_version: 'test',
    engine: { healthy: true },
    started_at: '2026-01-01T00:00:00.000Z',
    last_seen_at: '2026-01-01T00:00:00.000Z',
  };
}

/** A fixed directory that counts how often the whole fleet is listed. */
class FixedDirectory implements AgentDirectory {
  listed = 0;
  constructor(private readonly agents: AgentView[]) {}
  list(): AgentView[] {
    this.listed++;
    return this.agents;
  }
  hostnames(): readonly string[] {
    return this.agents.map((a) => a.hostname);
  }
  get(hostname: string): AgentView | undefined {
    return this.agents.find((a) => a.hostname === hostname);
  }
  countLive(): number {
    return this.agents.length;
  }
  labelsOf(hostname: string): Record<string, string> | undefined {
    return this.get(hostname)?.labels;
  }
}

const FLEET = [
  agent('db-01', { role: 'db', zone: 'eu.west' }),
  agent('web-01', { role: 'web', zone: 'eu.west' }),
  agent('web-02', { role: 'web', zone: 'us.east' }),
  agent('web-03', { role: 'web', zone: 'eu.north' }, true),
];

function failureOf(run: () => unknown): TargetFailure | undefined {
  try {
    run();
  } catch (err) {
    return err instanceof TargetError ? err.failure : undefined;
  }
  return undefined;
}

describe('TargetResolver', () => {
  it('resolves a hostname without listing the fleet, drained or not', () => {
    const directory = new FixedDirectory(FLEET);
    const resolver = new TargetResolver(directory);
    expect(resolver.resolve('web-01')).toEqual(['web-01']);
    expect(resolver.resolve('web-03')).toEqual(['web-03']);
    expect(directory.listed).toBe(0);
  });

  it('leaves drained agents out of _all, _any and label groups', () => {
    const resolver = new TargetResolver(new FixedDirectory(FLEET));
    expect(resolver.resolve('_all')).toEqual(['db-01', 'web-01', 'web-02']);
    expect(resolver.resolve('role:web')).toEqual(['web-01', 'web-02']);
    expect(resolver.resolve('role:web,zone:eu')).toEqual(['web-01']);
  });

  it('turns _any round robin over the eligible agents, without listing the fleet', () => {
    const directory = new FixedDirectory(FLEET);
    const resolver = new TargetResolver(directory);
    const picks = Array.from({ length: 6 }, () => resolver.resolve('_any'));
    expect(picks.flat()).toEqual(['db-01', 'web-01', 'web-02', 'db-01', 'web-01', 'web-02']);
    expect(directory.listed).toBe(0);
  });

  it('previews the host _any gives the next job without moving the round robin', () => {
    const resolver = new TargetResolver(new FixedDirectory(FLEET));
    expect(resolver.resolve('_any')).toEqual(['db-01']);
    expect(resolver.preview('_any')).toEqual(['web-01']);
    expect(resolver.preview('_any')).toEqual(['web-01']);
    expect(resolver.resolve('_any')).toEqual(['web-01']);
    expect(resolver.resolve('_any')).toEqual(['web-02']);
  });

  it('answers 404 for _any when every agent is drained', () => {
    const resolver = new TargetResolver(new FixedDirectory([agent('web-09', {}, true)]));
    expect(failureOf(() => resolver.resolve('_any'))).toBe('unmatched');
  });

  it('answers 404 naming how many live agents there were, and 400 for a bad selector', () => {
    const resolver = new TargetResolver(new FixedDirectory(FLEET));
    expect(() => resolver.resolve('role:cache')).toThrow("target 'role:cache' matched 0 of 4 live agents");
    expect(failureOf(() => resolver.resolve('role:cache'))).toBe('unmatched');
    expect(failureOf(() => resolver.resolve('nobody'))).toBe('unmatched');
    expect(failureOf(() => resolver.resolve('role:*'))).toBe('invalid');
  });

  it('answers a scoped key one 404 for every target outside its scope, existing or not, naming neither', () => {
    const resolver = new TargetResolver(new FixedDirectory(FLEET));
    const nothingInside = "no host of this key's scope 'role:web' matches this target";
    expect(resolver.resolve('role:web', 'role:web')).toEqual(['web-01', 'web-02']);
    for (const outside of ['_all', 'db-01', 'nobody', 'zone:eu', 'zone:nowhere', 'role:web.blue']) {
      expect(() => resolver.resolve(outside, 'role:web')).toThrow(new TargetError('unmatched', nothingInside));
    }
  });

  it('judges a selector of a scoped key from the selectors alone: zone:eu is outside role:web even when every zone:eu host is a web host', () => {
    const resolver = new TargetResolver(new FixedDirectory(FLEET.filter((a) => a.hostname !== 'db-01')));
    expect(resolver.resolve('zone:eu')).toEqual(['web-01']);
    expect(failureOf(() => resolver.resolve('zone:eu', 'role:web'))).toBe('unmatched');
    expect(resolver.resolve('role:web,zone:eu', 'role:web')).toEqual(['web-01']);
  });

  it('judges a hostname of a scoped key by the labels an admin gave it, never a pending host', () => {
    const pending: AgentView = { ...agent('web-09', {}), requested_labels: { role: 'web' }, enrollment: 'pending' };
    const directory = new FixedDirectory([...FLEET, pending]);
    directory.labelsOf = (hostname) => (hostname === 'web-09' ? undefined : FLEET.find((a) => a.hostname === hostname)?.labels);
    const resolver = new TargetResolver(directory);
    expect(failureOf(() => resolver.resolve('web-09', 'role:web'))).toBe('unmatched');
    expect(failureOf(() => resolver.resolve('web-09', 'web-09'))).toBe('unmatched');
    expect(resolver.resolve('web-01', 'role:web')).toEqual(['web-01']);
  });

  it('picks _any of a scoped key only among the live, undrained agents inside the scope', () => {
    const resolver = new TargetResolver(new FixedDirectory([...FLEET, agent('web-03', { role: 'web' }, true)]));
    const picked = Array.from({ length: 12 }, () => resolver.resolve('_any', 'role:web')[0]);
    expect(new Set(picked)).toEqual(new Set(['web-01', 'web-02']));
  });

  it('answers the same 404 when _any of a scoped key finds no agent inside the scope', () => {
    const resolver = new TargetResolver(new FixedDirectory(FLEET));
    expect(() => resolver.resolve('_any', 'role:cache')).toThrow("no host of this key's scope 'role:cache' matches this target");
  });
});
