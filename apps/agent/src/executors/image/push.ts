import type { Executor } from '../types';
import { followTransfer, registryAuth } from './progress';

export const imagePush: Executor<'docker.image.push'> = async ({ image, tag }, ctx) => {
  const stream = await ctx.docker.getImage(image).push({ tag, authconfig: registryAuth(await ctx.secret()), abortSignal: ctx.signal });
  const transfer = await followTransfer(stream, ctx, false);
  return {
    changed: transfer.layers > 0,
    message: transfer.summary.at(-1),
    reference: tag ? `${image}:${tag}` : image,
    digest: transfer.digest,
    layers_transferred: transfer.layers,
  };
};
