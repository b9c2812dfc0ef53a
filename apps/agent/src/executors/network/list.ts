import { engineFilters } from '../common';
import type { Executor } from '../types';

export const networkList: Executor<'docker.network.list'> = async ({ filters }, { docker, signal }) => {
  const networks = await docker.listNetworks({ filters: engineFilters(filters), abortSignal: signal });
  return { changed: false, message: `${networks.length} networks`, networks };
};
