import type { Executor } from '../types';

export const containerCommit: Executor<'docker.container.commit'> = async ({ id, body }, ctx) => {
  const { repo, tag, comment, author, changes, pause } = body ?? {};
  // `changes` goes to the Engine as one `changes=` query value per instruction.
  const image = (await ctx.docker
    .getContainer(id)
    .commit({ repo, tag, comment, author, changes, pause: pause ?? true, abortSignal: ctx.signal })) as { Id: string };
  const name = repo ? `${repo}:${tag ?? 'latest'}` : 'an untagged image';
  return { changed: true, id: image.Id, message: `committed ${id} as ${name}` };
};
