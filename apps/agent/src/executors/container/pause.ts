import type { Executor } from '../types';

/** An already paused container is the engine's 409, reported as a failed row (nothing changed). */
export const containerPause: Executor<'docker.container.pause'> = async ({ id }, { docker }) => {
  await docker.getContainer(id).pause();
  return { changed: true, id, message: 'container paused' };
};
