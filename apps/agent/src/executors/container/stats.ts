import { forEachJsonLine } from '../../ndjson';
import type { Executor } from '../types';

export const containerStats: Executor<'docker.container.stats'> = async ({ id, stream }, { docker, signal, emit }) => {
  const container = docker.getContainer(id);
  if (!stream) return { changed: false, id, stats: await container.stats({ stream: false }) };
  const samples = await forEachJsonLine(await container.stats({ stream: true }), signal, (sample) => emit('stats', sample));
  return { changed: false, id, message: `${samples} samples`, samples };
};
