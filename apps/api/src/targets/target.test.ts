import { hostInScope, labelsMatch, parseTarget, TargetSyntaxError } from './target';

describe('parseTarget', () => {
  it('reads reserved targets and hostnames', () => {
    expect(parseTarget('_any')).toEqual({ kind: 'any' });
    expect(parseTarget('_all')).toEqual({ kind: 'all' });
    expect(parseTarget('web-01')).toEqual({ kind: 'host', hostname: 'web-01' });
  });

  it('reads AND-ed hierarchical selectors', () => {
    expect(parseTarget('role:web,zone:eu.west')).toEqual({
      kind: 'labels',
      selectors: [
        { key: 'role', segments: ['web'] },
        { key: 'zone', segments: ['eu', 'west'] },
      ],
    });
  });

  it.each([
    ['role:', "invalid value segment ''"],
    [':web', "invalid key ''"],
    ['role:web.', "invalid value segment ''"],
    ['role:a b', "invalid value segment 'a b'"],
    ['role:web,', "selector '' is not key:value"],
    ['a:b.>', "invalid value segment '>'"],
    ['role:*', "invalid value segment '*'"],
    ['ro.le:web', "invalid key 'ro.le'"],
    ['web..01', "target 'web..01' is not a hostname"],
    ['_nope!', "target '_nope!' is not a hostname"],
  ])('rejects %s naming the bad part', (raw, message) => {
    expect(() => parseTarget(raw)).toThrow(TargetSyntaxError);
    expect(() => parseTarget(raw)).toThrow(message);
  });
});

describe('labelsMatch', () => {
  const labels = { role: 'web', zone: 'eu.west.1' };
  const match = (target: string) => {
    const parsed = parseTarget(target);
    if (parsed.kind !== 'labels') throw new Error('expected selectors');
    return labelsMatch(labels, parsed.selectors);
  };

  it('matches equal values and hierarchical prefixes by whole segments', () => {
    expect(match('role:web')).toBe(true);
    expect(match('zone:eu')).toBe(true);
    expect(match('zone:eu.west')).toBe(true);
    expect(match('zone:eu.west.1')).toBe(true);
  });

  it('does not match partial segments, other values or missing keys', () => {
    expect(match('zone:e')).toBe(false);
    expect(match('zone:eu.wes')).toBe(false);
    expect(match('role:db')).toBe(false);
    expect(match('rack:1')).toBe(false);
  });

  it('ANDs the selectors', () => {
    expect(match('role:web,zone:eu')).toBe(true);
    expect(match('role:web,zone:us')).toBe(false);
  });
});

describe('hostInScope', () => {
  it('limits a labelled scope to matching hosts and a host scope to that host', () => {
    expect(hostInScope(parseTarget('role:web'), 'web-01', { role: 'web' })).toBe(true);
    expect(hostInScope(parseTarget('role:web'), 'db-01', { role: 'db' })).toBe(false);
    expect(hostInScope(parseTarget('web-01'), 'web-02', { role: 'web' })).toBe(false);
  });
});
