import type { Executor } from '../types';

export const systemPing: Executor<'docker.system.ping'> = async (_input, { docker }) => ({
  changed: false,
  message: String(await docker.ping()),
});
