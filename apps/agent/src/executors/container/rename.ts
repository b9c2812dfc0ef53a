import type { Executor } from '../types';

export const containerRename: Executor<'docker.container.rename'> = async ({ id, name }, { docker }) => {
  await docker.getContainer(id).rename({ name });
  return { changed: true, id: name.replace(/^\//, ''), message: `container ${id} renamed to ${name}` };
};
