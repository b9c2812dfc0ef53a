import { engineFilters, pruneOutcome } from '../common';
import type { Executor } from '../types';

export const volumePrune: Executor<'docker.volume.prune'> = async ({ filters }, { docker, signal }) => {
  const { VolumesDeleted, SpaceReclaimed } = await docker.pruneVolumes({ filters: engineFilters(filters), abortSignal: signal });
  return pruneOutcome('volumes', VolumesDeleted, SpaceReclaimed);
};
