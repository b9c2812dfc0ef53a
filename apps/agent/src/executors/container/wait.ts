import type { Executor } from '../types';

/** Blocks until the condition holds; the job's deadline aborts the engine call (the worker then reports a timeout). */
export const containerWait: Executor<'docker.container.wait'> = async ({ id, condition }, { docker, signal }) => {
  const { StatusCode } = (await docker.getContainer(id).wait({ condition, abortSignal: signal })) as { StatusCode: number };
  return { changed: false, id, exit_code: StatusCode, message: `exited with ${StatusCode}` };
};
