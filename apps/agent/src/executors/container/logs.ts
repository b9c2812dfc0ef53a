import type { Executor } from '../types';
import { demultiplex } from './output';

export const containerLogs: Executor<'docker.container.logs'> = async ({ id, stdout, stderr, since, until, timestamps, tail }, { docker, signal }) => {
  const logs = await docker.getContainer(id).logs({
    follow: false,
    stdout: stdout ?? true,
    stderr: stderr ?? true,
    since,
    until,
    timestamps,
    tail: tail === undefined || tail === 'all' ? undefined : Number(tail),
    abortSignal: signal,
  });
  return { changed: false, id, ...(await demultiplex(docker.modem, logs, signal)) };
};
