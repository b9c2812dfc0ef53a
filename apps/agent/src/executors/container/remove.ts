import type { Executor } from '../types';

export const containerRemove: Executor<'docker.container.remove'> = async ({ id, force, v }, { docker }) => {
  await docker.getContainer(id).remove({ force, v });
  return { changed: true, id, message: 'container removed' };
};
