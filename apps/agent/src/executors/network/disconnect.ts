import type { Executor } from '../types';

export const networkDisconnect: Executor<'docker.network.disconnect'> = async ({ id, body }, { docker }) => {
  await docker.getNetwork(id).disconnect({ Container: body.container, Force: body.force });
  return { changed: true, id, message: `container ${body.container} disconnected` };
};
