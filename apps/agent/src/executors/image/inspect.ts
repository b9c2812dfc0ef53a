import type { Executor } from '../types';

export const imageInspect: Executor<'docker.image.inspect'> = async ({ image }, { docker }) => {
  const inspected = await docker.getImage(image).inspect();
  return { changed: false, id: inspected.Id, image: inspected };
};
