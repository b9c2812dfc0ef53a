import type { GatewayOperationName } from '@fleet/contracts/operations';
import { callerOf } from '../auth/middleware';
import { readableRows } from '../jobs/access';
import { STACK_HOST, type StackDeploy, type StackService } from '../stacks/service';
import type { GatewayHandlers } from './operation-table';

type StackOperation = Extract<GatewayOperationName, `stack.${string}`>;

/** The `/stack` resource (README "Stacks"); what each call may do is judged in StackService. */
export function stackHandlers(stacks: StackService): Pick<GatewayHandlers, StackOperation> {
  return {
    'stack.list': async (_req, res) => {
      res.json({ stacks: await stacks.list(callerOf(res)) });
    },
    'stack.get': async (req, res) => {
      res.json(await stacks.get(String(req.params.name), callerOf(res)));
    },
    'stack.put': async (req, res) => {
      const revision = await stacks.deploy(String(req.params.name), req.body as StackDeploy, callerOf(res));
      res.locals.jobId = revision.job_id;
      res.status(202).json({ name: revision.name, revision: revision.revision, job_id: revision.job_id });
    },
    'stack.rollback': async (req, res) => {
      const revision = await stacks.rollback(String(req.params.name), Number(req.query.to), callerOf(res));
      res.locals.jobId = revision.job_id;
      res.status(202).json({ name: revision.name, revision: revision.revision, job_id: revision.job_id });
    },
    'stack.remove': async (req, res) => {
      const { record, jobId } = await stacks.remove(String(req.params.name), callerOf(res));
      res.locals.jobId = jobId;
      res
        .status(202)
        .json({ name: record.name, revision: record.revision, removed_at: record.removed?.at, ...(jobId ? { job_id: jobId } : {}) });
    },
    'stack.revision': async (req, res) => {
      const { name, revision, compose, digest, target, created_at, created_by, rolled_back_from } = await stacks.revision(
        String(req.params.name),
        Number(req.params.revision),
        callerOf(res),
      );
      res.json({ name, revision, compose, digest, target, created_at, created_by, ...(rolled_back_from ? { rolled_back_from } : {}) });
    },
    'stack.diff': async (req, res) => {
      const { jobId, rows } = await stacks.diff(String(req.params.name), req.body as StackDeploy, callerOf(res));
      res.locals.jobId = jobId;
      res.json({ job_id: jobId, results: readableRows(callerOf(res).permissions, STACK_HOST.diff, rows) });
    },
  };
}
