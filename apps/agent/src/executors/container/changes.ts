import type { Executor } from '../types';

export const containerChanges: Executor<'docker.container.changes'> = async ({ id }, { docker }) => {
  const changes = (await docker.getContainer(id).changes()) as Array<{ Path: string; Kind: 0 | 1 | 2 }> | null;
  return { changed: false, id, message: `${changes?.length ?? 0} paths changed`, changes: changes ?? [] };
};
