import type { Executor } from '../types';

export const imageHistory: Executor<'docker.image.history'> = async ({ image }, { docker }) => {
  const history = (await docker.getImage(image).history()) as object[];
  return { changed: false, id: image, message: `${history.length} layers`, history };
};
