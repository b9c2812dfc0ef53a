import type { Executor } from '../types';

export const systemVersion: Executor<'docker.system.version'> = async (_input, { docker }) => ({
  changed: false,
  version: await docker.version(),
});
