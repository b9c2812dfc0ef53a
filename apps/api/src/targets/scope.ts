import { hostInScope, parseScope, parseTarget, targetWithin, type Target } from '@fleet/contracts/grammar';

/** The part of the agent directory a scope needs: labels of any agent heard from, live or not. */
export interface LabelSource {
  labelsOf(hostname: string): Record<string, string> | undefined;
}

/**
 * What an API key's target scope lets it see and reach (README "Security model"). An unscoped
 * key sees the whole fleet. A scoped key sees a host while the host's labels, as last heard,
 * match the scope; a host never heard from is outside (the check fails closed).
 */
export class KeyScope {
  private constructor(
    /** The scope as written in the key; undefined for an unscoped key. */
    readonly raw: string | undefined,
    private readonly target: Target | undefined,
    private readonly labels: LabelSource,
  ) {}

  /** The key's scope claim was validated when the key was verified; a claim that does not parse sees nothing. */
  static of(raw: string | undefined, labels: LabelSource): KeyScope {
    return new KeyScope(raw, raw === undefined ? undefined : parseScope(raw), labels);
  }

  get unscoped(): boolean {
    return this.raw === undefined;
  }

  includesAgent(agent: { hostname: string; labels: Record<string, string> }): boolean {
    return this.target === undefined || hostInScope(this.target, agent.hostname, agent.labels);
  }

  includesHost(hostname: string): boolean {
    if (this.target === undefined) return true;
    if (this.target.kind === 'host') return this.target.hostname === hostname;
    const labels = this.labels.labelsOf(hostname);
    return labels !== undefined && hostInScope(this.target, hostname, labels);
  }

  /**
   * Whether every host `raw` can reach is inside: a hostname inside now, or selectors at least as
   * narrow as the scope's. `_all` and `_any` are inside no scope (they are judged by where they land).
   */
  coversTarget(raw: string): boolean {
    if (this.target === undefined) return true;
    let target: Target;
    try {
      target = parseTarget(raw);
    } catch {
      return false;
    }
    return target.kind === 'host' ? this.includesHost(target.hostname) : targetWithin(target, this.target);
  }
}
