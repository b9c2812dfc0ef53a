import type { AgentView } from '../agents/roster';
import { labelsMatch, parseTarget, TargetSyntaxError, type Target } from '@fleet/contracts/grammar';
import { KeyScope, type LabelSource } from './scope';

export interface AgentDirectory extends LabelSource {
  /** Live agents, sorted by hostname. */
  list(): AgentView[];
  /** Known hostnames, sorted; live or not. */
  hostnames(): readonly string[];
  /** The agent, if it is live. */
  get(hostname: string): AgentView | undefined;
  countLive(): number;
}

/** Why a target resolves to no host the caller may reach; the HTTP layer picks the status. */
export type TargetFailure = 'invalid' | 'unmatched';

export class TargetError extends Error {
  override readonly name = 'TargetError';

  constructor(
    readonly failure: TargetFailure,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Turns a target into the fixed set of hostnames a job expects. Drained
 * agents leave every group but can still be named by hostname.
 */
export class TargetResolver {
  private anyCursor = 0;

  constructor(private readonly agents: AgentDirectory) {}

  /**
   * A scoped key's `_any` picks among the agents inside its scope, so it never lands outside; any
   * other target of a scoped key must lie wholly inside the scope, judged before looking at which
   * hosts exist, and anything else gets the scope's one 404 (KeyScope.nothingInside).
   */
  resolve(raw: string, scopeClaim?: string): string[] {
    return this.resolveTarget(raw, scopeClaim, true);
  }

  /** What resolve() would answer now, without moving `_any`'s round robin: the next job still gets the host shown. */
  preview(raw: string, scopeClaim?: string): string[] {
    return this.resolveTarget(raw, scopeClaim, false);
  }

  private resolveTarget(raw: string, scopeClaim: string | undefined, advance: boolean): string[] {
    const scope = KeyScope.of(scopeClaim, this.agents);
    const target = parse(raw);
    if (scope.unscoped) {
      const hosts = this.match(target, scope, advance);
      if (hosts.length === 0) throw new TargetError('unmatched', `target '${raw}' matched 0 of ${this.agents.countLive()} live agents`);
      return hosts.map((agent) => agent.hostname);
    }
    if (target.kind !== 'any' && !scope.covers(target)) throw new TargetError('unmatched', scope.nothingInside);
    const hosts = this.match(target, scope, advance);
    // Covering the target already keeps every host inside; checked again so a gap there fails closed.
    if (hosts.length === 0 || hosts.some((agent) => !scope.includesHost(agent.hostname)))
      throw new TargetError('unmatched', scope.nothingInside);
    return hosts.map((agent) => agent.hostname);
  }

  /** True when the target names one host, so that host's failure becomes the HTTP status. */
  static isSingleHost(raw: string): boolean {
    const target = parseTarget(raw);
    return target.kind === 'host' || target.kind === 'any';
  }

  private match(target: Target, scope: KeyScope, advance: boolean): AgentView[] {
    if (target.kind === 'host') {
      // A named host is looked up alone: no need to list the fleet. Drained hosts can be named.
      const agent = this.agents.get(target.hostname);
      return agent && isAccepted(agent) ? [agent] : [];
    }
    if (target.kind === 'any') return this.nextEligible(scope, advance);
    const eligible = this.agents.list().filter((agent) => isAccepted(agent) && !agent.drained);
    return target.kind === 'all' ? eligible : eligible.filter((agent) => labelsMatch(agent.labels, target.selectors));
  }

  /**
   * Round robin over live, undrained agents inside the scope, in hostname order, without listing the
   * fleet. Only a pick that will run (`advance`) moves the cursor past the agent it picked.
   */
  private nextEligible(scope: KeyScope, advance: boolean): AgentView[] {
    const hostnames = this.agents.hostnames();
    for (let tried = 0; tried < hostnames.length; tried++) {
      const cursor = this.anyCursor + tried;
      const agent = this.agents.get(hostnames[cursor % hostnames.length]);
      if (agent && isAccepted(agent) && !agent.drained && scope.includesHost(agent.hostname)) {
        if (advance) this.anyCursor = cursor + 1;
        return [agent];
      }
    }
    return [];
  }
}

/** A pending agent is listed but never targeted: its labels are only what it asked for. */
function isAccepted(agent: AgentView): boolean {
  return agent.enrollment === 'accepted';
}

function parse(raw: string): Target {
  try {
    return parseTarget(raw);
  } catch (err) {
    if (err instanceof TargetSyntaxError) throw new TargetError('invalid', err.message);
    throw err;
  }
}
