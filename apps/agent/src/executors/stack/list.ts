import type { Executor } from '../types';
import { hostStacks } from './host-stacks';

/** The stacks this host keeps, each with its revision and what its last check found. */
export const stackList: Executor<'stack.host.list'> = async (_input, ctx) => {
  const stacks = hostStacks(ctx).list();
  return { changed: false, message: `${stacks.length} stacks`, stacks };
};
