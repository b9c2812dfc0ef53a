import type { Executor } from '../types';
import { registryAuth } from './progress';

/** The Engine asks the registry itself, so the answer is what this host's pull would fetch. */
export const imageDistribution: Executor<'docker.image.distribution'> = async ({ image }, ctx) => {
  const { Descriptor, Platforms } = await ctx.docker.getImage(image).distribution({ authconfig: registryAuth(await ctx.secret()) });
  const platforms = Platforms ?? [];
  return {
    changed: false,
    id: image,
    message: `${platforms.length} platform${platforms.length === 1 ? '' : 's'}`,
    descriptor: Descriptor,
    platforms,
  };
};
