import type { Executor } from '../types';

export const containerStats: Executor<'docker.container.stats'> = async ({ id }, { docker }) => {
  const stats = await docker.getContainer(id).stats({ stream: false });
  return { changed: false, id, stats };
};
