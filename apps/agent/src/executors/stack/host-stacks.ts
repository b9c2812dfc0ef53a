import type { HostStacks } from '../../stacks/host-stacks';
import type { ExecutionContext } from '../types';

/** The host's stacks, which every agent keeps; only an executor run outside an agent (the bench) lacks them. */
export function hostStacks(ctx: ExecutionContext): HostStacks {
  if (!ctx.stacks) throw new Error('this agent keeps no stacks');
  return ctx.stacks;
}
