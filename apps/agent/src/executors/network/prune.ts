import { engineFilters, pruneOutcome } from '../common';
import type { Executor } from '../types';

export const networkPrune: Executor<'docker.network.prune'> = async ({ filters }, { docker, signal }) => {
  const { NetworksDeleted } = await docker.pruneNetworks({ filters: engineFilters(filters), abortSignal: signal });
  return pruneOutcome('networks', NetworksDeleted);
};
