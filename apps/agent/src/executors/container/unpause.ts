import type { Executor } from '../types';

/** A container that is not paused is the engine's error ("is not paused"), reported as a failed row (nothing changed). */
export const containerUnpause: Executor<'docker.container.unpause'> = async ({ id }, { docker }) => {
  await docker.getContainer(id).unpause();
  return { changed: true, id, message: 'container unpaused' };
};
