import { ifPresent } from '../common';
import type { Executor } from '../types';
import { followTransfer, registryAuth } from './progress';

/** `repo` + `tag` as one reference; a `tag` may be a digest. Without one the engine pulls every tag. */
function referenceOf(fromImage: string, tag: string | undefined): string {
  if (!tag) return fromImage;
  return `${fromImage}${tag.startsWith('sha256:') ? '@' : ':'}${tag}`;
}

export const imagePull: Executor<'docker.image.pull'> = async ({ fromImage, tag, progress }, ctx) => {
  const { docker, signal } = ctx;
  const stream = await docker.createImage({ fromImage, tag, authconfig: registryAuth(await ctx.secret()), abortSignal: signal });
  const transfer = await followTransfer(stream, ctx, progress === true);
  const reference = referenceOf(fromImage, tag);
  const image = await ifPresent(docker.getImage(reference).inspect());
  return {
    changed: transfer.summary.some((status) => status.startsWith('Status: Downloaded newer image')),
    id: image?.Id,
    message: transfer.summary.at(-1),
    reference,
    digest: transfer.digest,
    layers_transferred: transfer.layers,
  };
};
