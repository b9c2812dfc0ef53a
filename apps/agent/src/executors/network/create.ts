import type { Executor } from '../types';

/** The engine is asked to refuse a duplicate name (409) rather than make a second network of that name. */
export const networkCreate: Executor<'docker.network.create'> = async ({ body }, { docker }) => {
  const network = await docker.createNetwork({
    Name: body.name,
    Driver: body.driver,
    Internal: body.internal,
    Labels: body.labels,
    CheckDuplicate: true,
  });
  return { changed: true, id: network.id, message: 'network created' };
};
