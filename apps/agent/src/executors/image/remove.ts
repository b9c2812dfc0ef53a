import type { Executor } from '../types';

interface DeleteItem {
  Untagged?: string;
  Deleted?: string;
}

export const imageRemove: Executor<'docker.image.remove'> = async ({ image, force, noprune }, { docker }) => {
  const items = (await docker.getImage(image).remove({ force, noprune })) as DeleteItem[];
  const untagged = items.flatMap((item) => (item.Untagged ? [item.Untagged] : []));
  const deleted = items.flatMap((item) => (item.Deleted ? [item.Deleted] : []));
  return {
    changed: items.length > 0,
    id: deleted[0] ?? image,
    message: deleted.length ? 'image removed' : 'image untagged',
    untagged,
    deleted,
  };
};
