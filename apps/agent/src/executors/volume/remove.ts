import { ifPresent } from '../common';
import type { EngineClient, Executor } from '../types';

/**
 * Without `force` an absent volume is the engine's 404; with it the engine is
 * silent, so presence is checked first to keep `changed` truthful.
 */
export const volumeRemove: Executor<'docker.volume.remove'> = async ({ name, force }, { docker, signal }) => {
  const present = !force || (await ifPresent(docker.getVolume(name).inspect())) !== undefined;
  await deleteVolume(docker, name, force ?? false, signal);
  return present ? { changed: true, id: name, message: 'volume removed' } : { changed: false, id: name, message: 'volume already absent' };
};

/** dockerode's Volume.remove drops its options (its path has no `?`), so `force` would never reach the engine. */
function deleteVolume(docker: EngineClient, name: string, force: boolean, signal: AbortSignal): Promise<unknown> {
  return new Promise((resolve, reject) => {
    docker.modem.dial(
      {
        path: `/volumes/${encodeURIComponent(name)}?`,
        method: 'DELETE',
        options: { force },
        abortSignal: signal,
        statusCodes: { 204: true, 404: 'no such volume', 409: 'volume is in use', 500: 'server error' },
      },
      (err, data) => (err ? reject(err) : resolve(data)),
    );
  });
}
