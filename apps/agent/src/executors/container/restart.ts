import type { Executor } from '../types';

export const containerRestart: Executor<'docker.container.restart'> = async ({ id, t }, { docker }) => {
  await docker.getContainer(id).restart(t === undefined ? {} : { t });
  return { changed: true, id, message: 'container restarted' };
};
