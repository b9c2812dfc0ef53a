import { ifPresent } from '../common';
import type { Executor } from '../types';

export const imageTag: Executor<'docker.image.tag'> = async ({ image, repo, tag }, { docker }) => {
  const target = `${repo}:${tag ?? 'latest'}`;
  const { Id } = await docker.getImage(image).inspect();
  const current = await ifPresent(docker.getImage(target).inspect());
  if (current?.Id === Id) return { changed: false, id: Id, message: `${target} already names this image` };
  await docker.getImage(image).tag({ repo, tag: tag ?? 'latest' });
  return { changed: true, id: Id, message: `tagged ${target}` };
};
