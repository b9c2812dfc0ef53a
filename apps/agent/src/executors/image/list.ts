import { engineFilters } from '../common';
import type { Executor } from '../types';

export const imageList: Executor<'docker.image.list'> = async ({ all, digests, filters }, { docker, signal }) => {
  const images = await docker.listImages({ all, digests, filters: engineFilters(filters), abortSignal: signal });
  return { changed: false, message: `${images.length} images`, images };
};
