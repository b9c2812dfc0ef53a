/**
 * Target grammar (SPEC §2): a hostname, `_any`, `_all`, or label selectors
 * `key:value[,key:value…]`. Label values match hierarchically: `zone:eu`
 * matches `zone=eu` and `zone=eu.west.1`, never `zone=europe`.
 */
export type Target =
  | { kind: 'host'; hostname: string }
  | { kind: 'any' }
  | { kind: 'all' }
  | { kind: 'labels'; selectors: LabelSelector[] };

export interface LabelSelector {
  key: string;
  /** Dot-separated segments, e.g. ['eu', 'west']. */
  segments: string[];
}

const TOKEN = /^[A-Za-z0-9_-]+$/;
const HOSTNAME = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;
const MAX_SELECTORS = 16;

export class TargetSyntaxError extends Error {}

export function parseTarget(raw: string): Target {
  if (raw === '_any') return { kind: 'any' };
  if (raw === '_all') return { kind: 'all' };
  if (raw.includes(':') || raw.includes(',')) return { kind: 'labels', selectors: parseSelectors(raw) };
  if (!HOSTNAME.test(raw) || raw.length > 63) {
    throw new TargetSyntaxError(`target '${raw}' is not a hostname ([A-Za-z0-9][A-Za-z0-9_-]*, at most 63), _any, _all or key:value selectors`);
  }
  return { kind: 'host', hostname: raw };
}

function parseSelectors(raw: string): LabelSelector[] {
  const parts = raw.split(',');
  if (parts.length > MAX_SELECTORS) throw new TargetSyntaxError(`target has ${parts.length} selectors; at most ${MAX_SELECTORS}`);
  return parts.map(parseSelector);
}

function parseSelector(part: string): LabelSelector {
  const colon = part.indexOf(':');
  if (colon < 0) throw new TargetSyntaxError(`selector '${part}' is not key:value`);
  const key = part.slice(0, colon);
  const value = part.slice(colon + 1);
  if (!TOKEN.test(key)) throw new TargetSyntaxError(`selector '${part}' has an invalid key '${key}': keys match [A-Za-z0-9_-]+`);
  const segments = value.split('.');
  const bad = segments.find((segment) => !TOKEN.test(segment));
  if (bad !== undefined) {
    throw new TargetSyntaxError(
      `selector '${part}' has an invalid value segment '${bad}': each dot-separated segment matches [A-Za-z0-9_-]+`,
    );
  }
  return { key, segments };
}

export function labelsMatch(labels: Record<string, string>, selectors: LabelSelector[]): boolean {
  return selectors.every(({ key, segments }) => {
    const actual = labels[key];
    if (actual === undefined) return false;
    const wanted = segments.join('.');
    return actual === wanted || actual.startsWith(`${wanted}.`);
  });
}

/** Whether a host is inside a key's target scope (a scope is itself a target). */
export function hostInScope(scope: Target, hostname: string, labels: Record<string, string>): boolean {
  switch (scope.kind) {
    case 'all':
    case 'any':
      return true;
    case 'host':
      return scope.hostname === hostname;
    case 'labels':
      return labelsMatch(labels, scope.selectors);
  }
}
