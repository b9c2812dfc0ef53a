import type { Executor } from '../types';

/** An upgrade needs the launcher and the release key the daemon was given; startAgent puts the real executor in its place. */
export const agentUpgradeUnavailable: Executor<'docker.agent.upgrade'> = () =>
  Promise.reject(Object.assign(new Error('this agent cannot upgrade itself: it was started without its launcher'), { statusCode: 409 }));
