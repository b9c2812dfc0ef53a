import type { Executor } from '../types';

export const networkRemove: Executor<'docker.network.remove'> = async ({ id }, { docker }) => {
  await docker.getNetwork(id).remove();
  return { changed: true, id, message: 'network removed' };
};
