import { engineFilters } from '../common';
import type { Executor } from '../types';

/** Seed 000's shape: the engine's `ImagesDeleted` (never null here) and `SpaceReclaimed`. */
export const imagePrune: Executor<'docker.image.prune'> = async ({ filters }, { docker, signal }) => {
  const pruned = await docker.pruneImages({ filters: engineFilters(filters), abortSignal: signal });
  const deleted = pruned.ImagesDeleted ?? [];
  return {
    changed: deleted.length > 0,
    message: `${deleted.filter((item) => item.Deleted).length} images deleted`,
    ImagesDeleted: deleted,
    SpaceReclaimed: pruned.SpaceReclaimed ?? 0,
  };
};
