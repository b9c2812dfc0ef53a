import { engineUpload } from '../transfer';
import type { Executor } from '../types';

export const containerArchivePut: Executor<'docker.container.archive-put'> = async (
  { id, path, noOverwriteDirNonDir, copyUIDGID },
  ctx,
) => {
  const upload = engineUpload(ctx);
  await ctx.docker
    .getContainer(id)
    .putArchive(upload.body, {
      path,
      noOverwriteDirNonDir: noOverwriteDirNonDir ?? false,
      copyUIDGID: copyUIDGID ?? false,
      abortSignal: upload.signal,
    })
    .catch(upload.rethrow);
  return { changed: true, id, message: `archive extracted into ${path}` };
};
