import { isNotModified } from '../../engine';
import type { Executor } from '../types';

export const containerStart: Executor<'docker.container.start'> = async ({ id }, { docker }) => {
  try {
    await docker.getContainer(id).start();
    return { changed: true, id, message: 'container started' };
  } catch (err) {
    if (isNotModified(err)) return { changed: false, id, message: 'container already running' };
    throw err;
  }
};
