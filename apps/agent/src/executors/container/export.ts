import { sendEngineFile } from '../transfer';
import type { Executor } from '../types';

export const containerExport: Executor<'docker.container.export'> = async ({ id }, ctx) => {
  const filesystem = await ctx.docker.getContainer(id).export({ abortSignal: ctx.signal });
  const bytes = await sendEngineFile(ctx, filesystem);
  return { changed: false, id, message: `${bytes} bytes of the filesystem sent` };
};
