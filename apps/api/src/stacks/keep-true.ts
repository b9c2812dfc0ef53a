import { hostInScope, parseTarget, type Target } from '@fleet/contracts/grammar';
import type { HostRow } from '@fleet/contracts/protocol';
import type { ReportedStack } from './host-state';
import type { HostClaim, StackRecord } from './store';

/** One host as the keep-true controller sees it. */
export interface ControlledHost {
  hostname: string;
  live: boolean;
  drained: boolean;
  /** The labels an admin gave it; undefined for a host never accepted (no target reaches it). */
  labels: Record<string, string> | undefined;
  stacks: ReportedStack[];
}

/**
 * Where the current revision's own rollout is: `running` (the controller leaves the stack to it), `stopped` (a wave failed past
 * its budget, or it was aborted: hosts stay where it left them until the next PUT or rollback), `ended` (done, or never started).
 */
export type RolloutPhase = 'running' | 'stopped' | 'ended';

export interface ControlledStack {
  record: StackRecord;
  phase: RolloutPhase;
  /** The rows of the current revision's rollout, by hostname. */
  rows: ReadonlyMap<string, HostRow>;
}

export type StackAction =
  { kind: 'apply'; stack: string; revision: number; hostname: string } | { kind: 'remove'; stack: string; hostname: string };

/** A claim's revision for a removal. */
export const REMOVAL = 0;

/**
 * What the controller sends this round (README "Stacks", "Kept true"): the current revision to each live, accepted, undrained
 * host the target reaches that does not report it (a host newly matching, relabelled, back online, or missed by the rollout),
 * and a removal to each such host reporting a stack it should not run (removed, unknown, or whose target no longer reaches it).
 * Nothing goes to a host whose claim for that stack is still in flight, and a failed attempt is tried again only after its back-off.
 */
export function decideActions(stacks: ControlledStack[], hosts: ControlledHost[], claimOf: ClaimLookup, now: number): StackAction[] {
  const byName = new Map(stacks.map((stack) => [stack.record.name, { ...stack, target: targetOf(stack.record.target) }]));
  const actions: StackAction[] = [];
  for (const host of hosts) {
    if (!host.live || host.drained || host.labels === undefined) continue;
    const labels = host.labels;
    const reported = new Map(host.stacks.map((entry) => [entry.name, entry]));
    for (const stack of byName.values()) {
      if (stack.record.removed || !reaches(stack.target, host.hostname, labels)) continue;
      if (
        needsApply(stack, reported.get(stack.record.name), host.hostname) &&
        mayClaim(claimOf(stack.record.name, host.hostname), stack.record.revision, now)
      ) {
        actions.push({ kind: 'apply', stack: stack.record.name, revision: stack.record.revision, hostname: host.hostname });
      }
    }
    for (const entry of host.stacks) {
      const stack = byName.get(entry.name);
      const wanted = stack && !stack.record.removed && reaches(stack.target, host.hostname, labels);
      if (!wanted && mayClaim(claimOf(entry.name, host.hostname), REMOVAL, now)) {
        actions.push({ kind: 'remove', stack: entry.name, hostname: host.hostname });
      }
    }
  }
  return actions;
}

export type ClaimLookup = (stack: string, hostname: string) => HostClaim | undefined;

function needsApply(stack: ControlledStack, reported: ReportedStack | undefined, hostname: string): boolean {
  if (stack.phase !== 'ended') return false;
  if (reported?.revision === stack.record.revision && reported.state !== 'failed') return false;
  // Applied by the rollout: its heartbeat says so shortly.
  return stack.rows.get(hostname)?.status !== 'ok';
}

/** No claim, or the last one has passed its deadline, and (for the same revision) its back-off. */
export function mayClaim(claim: HostClaim | undefined, revision: number, now: number): boolean {
  if (!claim) return true;
  if (now < claim.until) return false;
  return claim.revision !== revision || now >= claim.retry_after;
}

/** The claim a new attempt writes: in flight until the job's deadline, then backed off by how often this revision failed here. */
export function nextClaim(previous: HostClaim | undefined, revision: number, jobId: string, deadline: number): HostClaim {
  const attempts = previous?.revision === revision ? previous.attempts + 1 : 1;
  return { revision, job_id: jobId, until: deadline, retry_after: deadline + backoffMs(attempts), attempts };
}

/**
 * The claim once its job ended: no longer in flight, so another revision or a removal may follow at once; the same revision
 * only after the back-off of one more attempt (at least 30 s, the time for the host's heartbeat to report what it applied).
 */
export function settledClaim(claim: HostClaim, now: number): HostClaim {
  return { ...claim, until: now, retry_after: now + backoffMs(claim.attempts + 1) };
}

/** The first attempt is tried again as soon as it is over; each further one waits twice as long, up to 10 minutes. */
export function backoffMs(attempts: number): number {
  return attempts <= 1 ? 0 : Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** (attempts - 2));
}

const FIRST_BACKOFF_MS = 30_000;
const MAX_BACKOFF_MS = 600_000;

function targetOf(raw: string): Target | undefined {
  try {
    return parseTarget(raw);
  } catch {
    return undefined;
  }
}

function reaches(target: Target | undefined, hostname: string, labels: Record<string, string>): boolean {
  return target !== undefined && target.kind !== 'any' && hostInScope(target, hostname, labels);
}
