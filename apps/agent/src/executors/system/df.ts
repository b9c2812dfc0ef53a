import type { Executor } from '../types';

export const systemDf: Executor<'docker.system.df'> = async (_input, { docker }) => ({ changed: false, df: await docker.df() });
