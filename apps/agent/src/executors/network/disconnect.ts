import { describeEngineError } from '../../engine';
import type { Executor } from '../types';

export const disconnectNetwork: Executor<'docker.network.disconnect'> = async ({ id, body }, { docker }) => {
  try {
    await docker.getNetwork(id).disconnect({ Container: body.container, Force: body.force });
  } catch (err) {
    // Engine 20.10 answers 500 for a container that is not on the network: a state conflict, not a server fault.
    if (/is not connected to the network/i.test(describeEngineError(err).error)) throw Object.assign(err as object, { statusCode: 409 });
    throw err;
  }
  return { changed: true, id, message: `container ${body.container} disconnected` };
};
