import { sendEngineFile } from '../transfer';
import type { Executor } from '../types';

/** The Engine's stat of the archived path (base64 JSON), which `docker cp` reads too. */
const PATH_STAT_HEADER = 'X-Docker-Container-Path-Stat';

export const containerArchiveGet: Executor<'docker.container.archive-get'> = async ({ id, path }, ctx) => {
  const archive = await ctx.docker.getContainer(id).getArchive({ path, abortSignal: ctx.signal });
  const bytes = await sendEngineFile(ctx, archive, [PATH_STAT_HEADER]);
  return { changed: false, id, message: `${bytes} bytes of ${path} sent` };
};
