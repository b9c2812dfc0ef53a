import type { Executor } from '../types';

export const networkConnect: Executor<'docker.network.connect'> = async ({ id, body }, { docker }) => {
  await docker.getNetwork(id).connect({ Container: body.container });
  return { changed: true, id, message: `container ${body.container} connected` };
};
