import { engineFilters } from '../common';
import type { Executor } from '../types';

export const volumeList: Executor<'docker.volume.list'> = async ({ filters }, { docker, signal }) => {
  const { Volumes, Warnings } = await docker.listVolumes({ filters: engineFilters(filters), abortSignal: signal });
  const volumes = Volumes ?? [];
  return { changed: false, message: `${volumes.length} volumes`, volumes, warnings: Warnings ?? [] };
};
