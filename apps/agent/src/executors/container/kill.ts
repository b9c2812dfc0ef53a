import type { Executor } from '../types';

/** A container that is not running is the engine's 409, reported as a failed row (nothing changed). */
export const containerKill: Executor<'docker.container.kill'> = async ({ id, signal }, { docker }) => {
  await docker.getContainer(id).kill(signal === undefined ? {} : { signal });
  return { changed: true, id, message: `sent ${signal ?? 'SIGKILL'}` };
};
