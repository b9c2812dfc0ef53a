import { hostInScope, parseScope, parseTarget, targetWithin, type Target } from '@fleet/contracts/grammar';

/**
 * The part of the agent directory a scope needs: the labels an admin gave each accepted host, live
 * or not; undefined for a host never accepted. Never the labels an agent reports about itself.
 */
export interface LabelSource {
  labelsOf(hostname: string): Record<string, string> | undefined;
}

/**
 * What an API key's target scope lets it see and reach (README "Roles, permissions and scope"). An
 * unscoped key sees the whole fleet. A scoped key sees a host while the labels an admin gave it
 * (its enrolment) match the scope, live or not; a host never accepted is inside no scope (the check
 * fails closed).
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

  /**
   * The one answer a scoped key gets for anything outside its scope, whether it exists or not, so
   * no answer tells which hosts or labels exist outside: it names neither the target nor a count.
   */
  get nothingInside(): string {
    return `no host of this key's scope '${this.raw}' matches this target`;
  }

  includesHost(hostname: string): boolean {
    if (this.target === undefined) return true;
    const labels = this.labels.labelsOf(hostname);
    return labels !== undefined && hostInScope(this.target, hostname, labels);
  }

  /**
   * Whether every host `raw` can reach is inside: a hostname inside now, or selectors at least as
   * narrow as the scope's. `_all` and `_any` are inside no scope (they are judged by where they land).
   */
  coversTarget(raw: string): boolean {
    if (this.target === undefined) return true;
    try {
      return this.covers(parseTarget(raw));
    } catch {
      return false;
    }
  }

  covers(target: Target): boolean {
    if (this.target === undefined) return true;
    return target.kind === 'host' ? this.includesHost(target.hostname) : targetWithin(target, this.target);
  }
}
