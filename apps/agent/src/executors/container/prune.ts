import { engineFilters, pruneOutcome } from '../common';
import type { Executor } from '../types';

export const containerPrune: Executor<'docker.container.prune'> = async ({ filters }, { docker, signal }) => {
  const { ContainersDeleted, SpaceReclaimed } = await docker.pruneContainers({ filters: engineFilters(filters), abortSignal: signal });
  return pruneOutcome('containers', ContainersDeleted, SpaceReclaimed);
};
