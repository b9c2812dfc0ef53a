import type { Executor } from '../types';

export const containerTop: Executor<'docker.container.top'> = async ({ id, ps_args }, { docker }) => {
  const { Titles, Processes } = (await docker.getContainer(id).top(ps_args === undefined ? {} : { ps_args })) as {
    Titles?: string[];
    Processes?: string[][] | null;
  };
  return { changed: false, id, titles: Titles ?? [], processes: Processes ?? [] };
};
