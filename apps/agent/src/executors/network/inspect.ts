import type { Executor } from '../types';

export const networkInspect: Executor<'docker.network.inspect'> = async ({ id }, { docker }) => {
  const network = await docker.getNetwork(id).inspect();
  return { changed: false, id: network.Id, network };
};
