import { setTimeout as sleep } from 'node:timers/promises';
import type Docker from 'dockerode';
import type { Executor } from '../types';
import { envList } from './host-config';
import { demultiplex } from './output';

/**
 * Runs the command to its end within the job's deadline: the signal aborts the
 * engine calls and closes the output stream (the command itself keeps running,
 * the engine has no way to stop an exec).
 */
export const containerExec: Executor<'docker.container.exec'> = async ({ id, body }, { docker, signal, maxOutputBytes }) => {
  const exec = await docker.getContainer(id).exec({
    Cmd: body.cmd,
    Env: envList(body.env),
    WorkingDir: body.workdir,
    User: body.user,
    AttachStdout: true,
    AttachStderr: true,
    abortSignal: signal,
  });
  const stream = await exec.start({ hijack: true, stdin: false, abortSignal: signal });
  const output = await demultiplex(docker.modem, stream, signal, maxOutputBytes);
  const exitCode = await exitCodeOf(exec, signal);
  return { changed: true, id, message: `exited with ${exitCode}`, exit_code: exitCode, ...output };
};

/** The output can end a moment before the engine records the exit; ask again briefly. */
async function exitCodeOf(exec: Docker.Exec, signal: AbortSignal): Promise<number> {
  for (;;) {
    const { Running, ExitCode } = await exec.inspect({ abortSignal: signal });
    if (!Running && ExitCode !== null) return ExitCode;
    await sleep(20, undefined, { signal });
  }
}
