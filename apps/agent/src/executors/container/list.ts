import type { Executor } from '../types';

export const containerList: Executor<'docker.container.list'> = async (input, { docker }) => {
  const containers = await docker.listContainers({
    all: input.all,
    limit: input.limit,
    size: input.size,
    filters: input.filters ? JSON.stringify(input.filters) : undefined,
  });
  return { changed: false, message: `${containers.length} containers`, containers };
};
