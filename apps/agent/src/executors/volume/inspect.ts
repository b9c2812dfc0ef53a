import type { Executor } from '../types';

export const volumeInspect: Executor<'docker.volume.inspect'> = async ({ name }, { docker }) => {
  const volume = await docker.getVolume(name).inspect();
  return { changed: false, id: volume.Name, volume };
};
