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
export type TargetFailure = 'invalid' | 'unmatched' | 'out of scope';

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
   * other target reaching outside the scope is refused, naming no host but the one the caller gave.
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
    const hosts = this.match(parse(raw), scope, advance);
    if (hosts.length === 0) {
      const within = scope.unscoped ? '' : ` inside this key's scope '${scope.raw}'`;
      throw new TargetError('unmatched', `target '${raw}' matched 0 of ${this.countVisible(scope)} live agents${within}`);
    }
    const outside = hosts.filter((agent) => !scope.includesAgent(agent)).length;
    if (outside > 0) {
      throw new TargetError('out of scope', `target '${raw}' reaches ${outside} host(s) outside this key's scope '${scope.raw}'`);
    }
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
      if (agent && isAccepted(agent) && !agent.drained && scope.includesAgent(agent)) {
        if (advance) this.anyCursor = cursor + 1;
        return [agent];
      }
    }
    return [];
  }

  /** Live agents the key may know of: a scoped key is not told the size of the fleet outside its scope. */
  private countVisible(scope: KeyScope): number {
    return scope.unscoped ? this.agents.countLive() : this.agents.list().filter((agent) => scope.includesAgent(agent)).length;
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
