import type { Executor } from '../types';

export const containerInspect: Executor<'docker.container.inspect'> = async ({ id }, { docker }) => {
  const container = await docker.getContainer(id).inspect();
  return { changed: false, id: container.Id, container };
};
