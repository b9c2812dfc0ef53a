import type { Executor } from '../types';
import { hostStacks } from './host-stacks';

/** As `docker compose down`: containers and networks removed, named volumes kept; the agent forgets the stack. */
export const stackRemove: Executor<'stack.host.remove'> = async ({ name }, ctx) => {
  const result = await hostStacks(ctx).remove(name);
  return { changed: result.changed, message: result.changed ? `stack ${name} removed` : `no stack ${name} here`, changes: result.changes };
};
