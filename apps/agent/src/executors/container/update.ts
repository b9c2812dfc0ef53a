import { isDeepStrictEqual } from 'node:util';
import type { Executor } from '../types';
import { hostResources } from './host-config';

/** `changed` compares the container's settings before and after: the engine accepts an update that sets what is already there. */
export const containerUpdate: Executor<'docker.container.update'> = async ({ id, body }, { docker }) => {
  const container = docker.getContainer(id);
  const update = hostResources(body);
  const settings = async () => {
    const hostConfig = (await container.inspect()).HostConfig as unknown as Record<string, unknown>;
    return Object.keys(update).map((field) => hostConfig[field]);
  };
  const before = await settings();
  const { Warnings } = (await container.update(update)) as { Warnings?: string[] | null };
  const changed = !isDeepStrictEqual(before, await settings());
  return { changed, id, message: changed ? 'container updated' : 'container already had these settings', warnings: Warnings ?? [] };
};
