import type { ExecutionContext, Executor } from '../types';
import { demultiplex, type OutputSinks } from './output';

export const containerLogs: Executor<'docker.container.logs'> = async ({ id, stdout, stderr, since, until, timestamps, tail, follow }, ctx) => {
  const options = {
    stdout: stdout ?? true,
    stderr: stderr ?? true,
    since,
    until,
    timestamps,
    tail: tail === undefined || tail === 'all' ? undefined : Number(tail),
    abortSignal: ctx.signal,
  };
  const container = ctx.docker.getContainer(id);
  if (!follow) return { changed: false, id, ...(await demultiplex(ctx.docker.modem, await container.logs({ ...options, follow: false }), ctx.signal)) };
  const stream = await container.logs({ ...options, follow: true });
  await demultiplex(ctx.docker.modem, stream, ctx.signal, emitting(ctx));
  return { changed: false, id, message: 'log stream ended' };
};

/** Each chunk goes out as it comes, as a `stdout` or `stderr` event. */
function emitting(ctx: ExecutionContext): OutputSinks {
  const sink = (event: string) => ({ write: (chunk: Buffer) => (ctx.emit(event, { text: chunk.toString('utf8') }), true) }) as unknown as NodeJS.WritableStream;
  return { stdout: sink('stdout'), stderr: sink('stderr') };
}
