import type { Executor } from '../types';

export const systemInfo: Executor<'docker.system.info'> = async (_input, { docker }) => ({ changed: false, info: await docker.info() });
