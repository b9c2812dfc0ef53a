import { stackSpecRefusal } from '@fleet/contracts/compose';
import { planChanges } from '../../stacks/plan';
import type { Executor } from '../types';
import { hostStacks } from './host-stacks';

/** What an apply of the revision would change here, reading the engine only. */
export const stackDiff: Executor<'stack.host.diff'> = async ({ name, body }, ctx) => {
  const refusal = stackSpecRefusal(body.spec);
  if (refusal) throw Object.assign(new Error(refusal), { statusCode: 400, json: { message: refusal } });
  const plan = await hostStacks(ctx).diff(name, body);
  if (plan.conflicts.length > 0) {
    const message = `an apply would fail: ${plan.conflicts.join(', ')} exists and does not belong to stack ${name}`;
    throw Object.assign(new Error(message), { statusCode: 409, json: { message } });
  }
  return {
    changed: false,
    message: planChanges(plan) ? `stack ${name} would change` : `stack ${name} is up to date`,
    revision: body.revision,
    changes: plan.changes,
  };
};
