import { stackSpecRefusal } from '@fleet/contracts/compose';
import type { Executor } from '../types';
import { hostStacks } from './host-stacks';

/** Brings the engine to the revision (README "Stacks on the agents"); the agent keeps it and watches it for drift. */
export const stackApply: Executor<'stack.host.apply'> = async ({ name, body }, ctx) => {
  const refusal = stackSpecRefusal(body.spec);
  if (refusal) throw Object.assign(new Error(refusal), { statusCode: 400, json: { message: refusal } });
  const result = await hostStacks(ctx).apply(name, body, { signal: ctx.signal, deadline: ctx.deadline });
  return {
    changed: result.changed,
    message: `stack ${name} at revision ${body.revision}`,
    revision: body.revision,
    changes: result.changes,
    containers: result.containers,
  };
};
