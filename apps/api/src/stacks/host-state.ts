import type { components } from '@fleet/contracts';
import type { HostRow } from '@fleet/contracts/protocol';

export type StackHost = components['schemas']['StackHost'];
export type StackHostState = StackHost['state'];
export type StackHostCounts = components['schemas']['StackHostCounts'];

/** What an agent says in its heartbeat about one stack it runs (README "Stacks"). */
export interface ReportedStack {
  name: string;
  revision: number;
  state: 'in_sync' | 'drifted' | 'failed';
  drift?: Array<{ service: string; what: string }>;
  error?: string;
  checked_at?: string;
}

/** An agent reports this many stacks at most; anything past it is not read. */
export const MAX_REPORTED_STACKS = 256;
const NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const REPORTED_STATES = new Set(['in_sync', 'drifted', 'failed']);
const MAX_TEXT = 1024;

/**
 * The stacks a heartbeat reports, each checked for shape: a heartbeat is the agent's word, so an entry that is not what an
 * agent writes is left out rather than trusted, and a text is cut to a bound.
 */
export function reportedStacks(heartbeat: unknown): ReportedStack[] {
  const stacks = (heartbeat as { stacks?: unknown } | undefined)?.stacks;
  if (!Array.isArray(stacks)) return [];
  return stacks.slice(0, MAX_REPORTED_STACKS).flatMap((entry: unknown) => {
    const candidate = entry as Partial<ReportedStack> | null;
    if (typeof candidate !== 'object' || candidate === null) return [];
    const { name, revision, state } = candidate;
    if (typeof name !== 'string' || !NAME.test(name) || !Number.isSafeInteger(revision) || (revision as number) < 0) return [];
    if (typeof state !== 'string' || !REPORTED_STATES.has(state)) return [];
    return [
      {
        name,
        revision: revision as number,
        state,
        ...(Array.isArray(candidate.drift) ? { drift: driftOf(candidate.drift) } : {}),
        ...(typeof candidate.error === 'string' ? { error: candidate.error.slice(0, MAX_TEXT) } : {}),
        ...(typeof candidate.checked_at === 'string' ? { checked_at: candidate.checked_at.slice(0, 64) } : {}),
      },
    ];
  });
}

function driftOf(drift: unknown[]): Array<{ service: string; what: string }> {
  return drift.slice(0, 64).flatMap((item) => {
    const { service, what } = (item ?? {}) as { service?: unknown; what?: unknown };
    return typeof service === 'string' && typeof what === 'string'
      ? [{ service: service.slice(0, 128), what: what.slice(0, MAX_TEXT) }]
      : [];
  });
}

/** What is known of one host for one stack at its current revision. */
export interface HostFacts {
  hostname: string;
  live: boolean;
  /** The host's own report of the stack, if it runs it. */
  reported?: ReportedStack;
  /** The host's row in the current revision's rollout, if it has one. */
  row?: HostRow;
}

/**
 * One host's state for GET /stack/{name}: offline when its agent is not live; else what it reports of the current revision;
 * failed when the current revision's rollout failed its health gate there, or failed and it reports no success since; else pending.
 */
export function hostState(facts: HostFacts, currentRevision: number): StackHost {
  const { hostname, reported, row } = facts;
  const base = { hostname, ...(reported ? { revision: reported.revision } : {}) };
  if (!facts.live) return { ...base, state: 'offline' };
  // The rollout's health gate is the verdict its caller asked for: an engine brought to the revision does not undo it.
  if (row?.status === 'failed' && row.gate !== undefined) return { ...base, state: 'failed', error: row.error ?? 'the health gate failed' };
  if (reported?.revision === currentRevision) {
    return {
      ...base,
      state: reported.state,
      ...(reported.drift && reported.drift.length > 0 ? { drift: reported.drift } : {}),
      ...(reported.error ? { error: reported.error } : {}),
      ...(reported.checked_at ? { checked_at: reported.checked_at } : {}),
    };
  }
  if (row?.status === 'failed') return { ...base, state: 'failed', error: row.error ?? 'the apply failed' };
  return { ...base, state: 'pending' };
}

export function countStates(hosts: StackHost[]): StackHostCounts {
  const counts: StackHostCounts = { in_sync: 0, drifted: 0, pending: 0, failed: 0, offline: 0 };
  for (const host of hosts) counts[host.state]++;
  return counts;
}
