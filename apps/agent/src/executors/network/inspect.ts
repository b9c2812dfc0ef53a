import type { Executor } from '../types';

export const inspectNetwork: Executor<'docker.network.inspect'> = async ({ id }, { docker }) => {
  const network = await docker.getNetwork(id).inspect();
  return { changed: false, id: network.Id, network };
};
