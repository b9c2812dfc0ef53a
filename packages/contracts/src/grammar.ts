/**
 * The hostname, label and target grammar, defined once: the gateway parses targets with it, the agent checks its
 * own hostname and labels, the CLI checks `nats-config --agents`, and a unit test pins the contract's `Hostname`
 * schema (openapi.yaml) to HOSTNAME_PATTERN.
 *
 * A target (README "What it is") is a hostname, `_any`, `_all`, or label selectors `key:value[,key:value…]`.
 * Label values match hierarchically: `zone:eu` matches `zone=eu` and `zone=eu.west.1`, never `zone=europe`.
 */

/** A hostname becomes a NATS subject token and a KV key part: no dots, no wildcards, at most 63 characters. */
export const HOSTNAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$';
/** HOSTNAME_PATTERN in words, for error messages. */
export const HOSTNAME_RULE = 'a name matching [A-Za-z0-9][A-Za-z0-9_-]{0,62}';
/** One label key, or one dot-separated segment of a label value. */
const LABEL_TOKEN = '[A-Za-z0-9_-]+';
export const LABEL_KEY_PATTERN = `^${LABEL_TOKEN}$`;
export const LABEL_VALUE_PATTERN = `^${LABEL_TOKEN}(\\.${LABEL_TOKEN})*$`;
/** The label grammar in words, for error messages. */
export const LABELS_RULE = 'comma-separated key=value pairs, keys [A-Za-z0-9_-]+ and dot-separated value segments [A-Za-z0-9_-]+';

const HOSTNAME = new RegExp(HOSTNAME_PATTERN);
const TOKEN = new RegExp(LABEL_KEY_PATTERN);
const LABEL_VALUE = new RegExp(LABEL_VALUE_PATTERN);

export function isHostname(raw: string): boolean {
  return HOSTNAME.test(raw);
}

export function isLabel(key: string, value: string): boolean {
  return TOKEN.test(key) && LABEL_VALUE.test(value);
}

export type Target =
  { kind: 'host'; hostname: string } | { kind: 'any' } | { kind: 'all' } | { kind: 'labels'; selectors: LabelSelector[] };

export interface LabelSelector {
  key: string;
  /** Dot-separated segments, e.g. ['eu', 'west']. */
  segments: string[];
}

const MAX_SELECTORS = 16;

export class TargetSyntaxError extends Error {
  override readonly name = 'TargetSyntaxError';
}

export function parseTarget(raw: string): Target {
  if (raw === '_any') return { kind: 'any' };
  if (raw === '_all') return { kind: 'all' };
  if (raw.includes(':') || raw.includes(',')) return { kind: 'labels', selectors: parseSelectors(raw) };
  if (!isHostname(raw)) {
    throw new TargetSyntaxError(`target '${raw}' is not a hostname (${HOSTNAME_RULE}), _any, _all or key:value selectors`);
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
    // Own string values only: a selector key such as `__proto__` or `constructor` must not reach Object.prototype.
    const actual = Object.hasOwn(labels, key) ? labels[key] : undefined;
    if (typeof actual !== 'string') return false;
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

/**
 * Whether every host `inner` can ever reach is inside `outer`, judged from the two targets alone
 * (labels may change later, so a hostname is inside a label scope only for `hostInScope`, never here):
 * `role:web,zone:eu` is inside `role:web`; `role:web.blue` inside `role:web`; `_all` inside nothing but `_all`.
 */
export function targetWithin(inner: Target, outer: Target): boolean {
  if (outer.kind === 'all' || outer.kind === 'any') return true;
  if (outer.kind === 'host') return inner.kind === 'host' && inner.hostname === outer.hostname;
  if (inner.kind !== 'labels') return false;
  return outer.selectors.every((wanted) =>
    inner.selectors.some((given) => given.key === wanted.key && segmentsWithin(given.segments, wanted.segments)),
  );
}

function segmentsWithin(inner: string[], outer: string[]): boolean {
  return inner.length >= outer.length && outer.every((segment, i) => inner[i] === segment);
}

/** A scope is a hostname or label selectors; `_all`/`_any` or an empty scope would be no limit at all and are refused. */
export function parseScope(raw: string): Target {
  const target = parseTarget(raw);
  if (target.kind === 'all' || target.kind === 'any') {
    throw new TargetSyntaxError(`scope '${raw}' would not limit the key: give a hostname or key:value selectors, or no scope`);
  }
  return target;
}
