import {
  HOSTNAME_PATTERN,
  hostInScope,
  isHostname,
  isLabel,
  labelsMatch,
  parseScope,
  parseTarget,
  targetWithin,
  TargetSyntaxError,
} from './grammar';
import { loadContract } from './operations';

describe('the hostname grammar', () => {
  it("is the pattern of the contract's Hostname schema, so gateway, agent, CLI and contract accept the same names", () => {
    const schemas = (loadContract().components as { schemas: Record<string, { pattern?: string; maxLength?: number }> }).schemas;
    expect(schemas.Hostname.pattern).toBe(HOSTNAME_PATTERN);
    expect(schemas.Hostname.maxLength).toBe(63);
  });

  it('takes subject-safe names of at most 63 characters', () => {
    expect(isHostname('web-01')).toBe(true);
    expect(isHostname('a'.repeat(63))).toBe(true);
    expect(isHostname('a'.repeat(64))).toBe(false);
    expect(isHostname('web.01')).toBe(false);
    expect(isHostname('-web')).toBe(false);
    expect(isHostname('web*')).toBe(false);
    expect(isHostname('')).toBe(false);
  });
});

describe('the label grammar', () => {
  it('takes token keys and dot-separated token values', () => {
    expect(isLabel('zone', 'eu.west.1')).toBe(true);
    expect(isLabel('role', 'web')).toBe(true);
    expect(isLabel('ro.le', 'web')).toBe(false);
    expect(isLabel('zone', 'eu..west')).toBe(false);
    expect(isLabel('zone', 'eu.')).toBe(false);
    expect(isLabel('zone', '')).toBe(false);
    expect(isLabel('zone', 'eu>')).toBe(false);
  });
});

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

describe('selector keys that name Object.prototype members', () => {
  it.each(['__proto__', 'constructor', 'toString', 'hasOwnProperty'])('treats %s:x as an ordinary label key', (key) => {
    const target = parseTarget(`${key}:x`);
    if (target.kind !== 'labels') throw new Error('expected selectors');
    expect(labelsMatch({ role: 'web' }, target.selectors)).toBe(false);
    expect(labelsMatch(JSON.parse(`{"${key}": "x"}`) as Record<string, string>, target.selectors)).toBe(true);
  });
});

describe('targetWithin', () => {
  const within = (inner: string, outer: string) => targetWithin(parseTarget(inner), parseTarget(outer));

  it('holds for selectors at least as narrow as the outer ones', () => {
    expect(within('role:web', 'role:web')).toBe(true);
    expect(within('role:web,zone:eu', 'role:web')).toBe(true);
    expect(within('role:web.blue', 'role:web')).toBe(true);
    expect(within('web-01', 'web-01')).toBe(true);
    expect(within('_all', '_all')).toBe(true);
  });

  it('fails for anything that could reach further', () => {
    expect(within('role:webby', 'role:web')).toBe(false);
    expect(within('zone:eu', 'role:web')).toBe(false);
    expect(within('role:web', 'role:web,zone:eu')).toBe(false);
    expect(within('role:web', 'role:web.blue')).toBe(false);
    expect(within('_all', 'role:web')).toBe(false);
    expect(within('_any', 'role:web')).toBe(false);
    expect(within('web-01', 'role:web')).toBe(false);
    expect(within('role:web', 'web-01')).toBe(false);
  });
});

describe('parseScope', () => {
  it.each(['', '_all', '_any'])("refuses '%s': it would not limit a key", (raw) => {
    expect(() => parseScope(raw)).toThrow(TargetSyntaxError);
  });

  it('takes a hostname or selectors', () => {
    expect(parseScope('web-01')).toEqual({ kind: 'host', hostname: 'web-01' });
    expect(parseScope('role:web').kind).toBe('labels');
  });
});
