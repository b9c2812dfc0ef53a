import { isNotModified } from '../../engine';
import type { Executor } from '../types';

export const containerStop: Executor<'docker.container.stop'> = async ({ id, t }, { docker }) => {
  try {
    await docker.getContainer(id).stop(t === undefined ? {} : { t });
    return { changed: true, id, message: 'container stopped' };
  } catch (err) {
    if (isNotModified(err)) return { changed: false, id, message: 'container already stopped' };
    throw err;
  }
};
