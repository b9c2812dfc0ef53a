import type { EngineClient, ExecutionContext, Executor } from '../types';
import { demultiplex, type OutputSinks } from './output';

export const containerLogs: Executor<'docker.container.logs'> = async (
  { id, stdout, stderr, since, until, timestamps, tail, follow },
  ctx,
) => {
  const options = {
    stdout: stdout ?? true,
    stderr: stderr ?? true,
    since,
    until,
    timestamps,
    tail: tail === undefined || tail === 'all' ? undefined : Number(tail),
    abortSignal: ctx.signal,
  };
  if (!follow) {
    const logs = await logStream(ctx.docker, id, { ...options, follow: false });
    return { changed: false, id, ...(await demultiplex(ctx.docker.modem, logs, ctx.signal, ctx.maxOutputBytes)) };
  }
  const stream = await ctx.docker.getContainer(id).logs({ ...options, follow: true });
  await demultiplex(ctx.docker.modem, stream, ctx.signal, ctx.maxOutputBytes, emitting(ctx));
  return { changed: false, id, message: 'log stream ended' };
};

/**
 * The logs as a stream even without `follow`: dockerode reads a non-follow answer into one Buffer,
 * which for a chatty container would hold all of its logs in the agent's memory at once. This is
 * the request dockerode's `Container.logs` makes, with `isStream` always on.
 */
function logStream(
  docker: EngineClient,
  id: string,
  options: Record<string, unknown> & { abortSignal: AbortSignal },
): Promise<NodeJS.ReadableStream> {
  return new Promise((resolve, reject) => {
    docker.modem.dial(
      {
        path: `/containers/${encodeURIComponent(id)}/logs?`,
        method: 'GET',
        abortSignal: options.abortSignal,
        isStream: true,
        statusCodes: { 200: true, 404: 'no such container', 500: 'server error' },
        options,
      },
      (err: unknown, stream: unknown) => (err ? reject(err) : resolve(stream as NodeJS.ReadableStream)),
    );
  });
}

/** Each chunk goes out as it comes, as a `stdout` or `stderr` event. */
function emitting(ctx: ExecutionContext): OutputSinks {
  const sink = (event: 'stdout' | 'stderr') =>
    ({ write: (chunk: Buffer) => (ctx.emit(event, { text: chunk.toString('utf8') }), true) }) as unknown as NodeJS.WritableStream;
  return { stdout: sink('stdout'), stderr: sink('stderr') };
}
