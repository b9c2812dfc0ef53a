import type { AgentView } from '../agents/roster';
import { hostInScope, labelsMatch, parseTarget, TargetSyntaxError, type Target } from '@fleet/contracts/grammar';

export interface AgentDirectory {
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

  resolve(raw: string, scope?: string): string[] {
    const hosts = this.match(parse(raw));
    if (hosts.length === 0) {
      throw new TargetError('unmatched', `target '${raw}' matched 0 of ${this.agents.countLive()} live agents`);
    }
    if (scope) this.enforceScope(scope, raw, hosts);
    return hosts.map((agent) => agent.hostname);
  }

  /** True when the target names one host, so that host's failure becomes the HTTP status. */
  static isSingleHost(raw: string): boolean {
    const target = parseTarget(raw);
    return target.kind === 'host' || target.kind === 'any';
  }

  private match(target: Target): AgentView[] {
    if (target.kind === 'host') {
      // A named host is looked up alone: no need to list the fleet. Drained hosts can be named.
      const agent = this.agents.get(target.hostname);
      return agent ? [agent] : [];
    }
    if (target.kind === 'any') return this.nextEligible();
    const eligible = this.agents.list().filter((agent) => !agent.drained);
    return target.kind === 'all' ? eligible : eligible.filter((agent) => labelsMatch(agent.labels, target.selectors));
  }

  /** Round robin over live, undrained agents in hostname order, without listing the fleet. */
  private nextEligible(): AgentView[] {
    const hostnames = this.agents.hostnames();
    for (let tried = 0; tried < hostnames.length; tried++) {
      const agent = this.agents.get(hostnames[this.anyCursor++ % hostnames.length]);
      if (agent && !agent.drained) return [agent];
    }
    return [];
  }

  private enforceScope(scope: string, raw: string, hosts: AgentView[]): void {
    const allowed = parse(scope);
    const outside = hosts.filter((agent) => !hostInScope(allowed, agent.hostname, agent.labels));
    if (outside.length > 0) {
      throw new TargetError(
        'out of scope',
        `target '${raw}' reaches ${outside.map((a) => a.hostname).join(', ')}, outside this key's scope '${scope}'`,
      );
    }
  }
}

function parse(raw: string): Target {
  try {
    return parseTarget(raw);
  } catch (err) {
    if (err instanceof TargetSyntaxError) throw new TargetError('invalid', err.message);
    throw err;
  }
}
