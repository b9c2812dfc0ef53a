import type { ExecutionContext } from './types';

/** A readable stream as dockerode hands it out: its Engine answer's headers, and destroy. */
type EngineStream = NodeJS.ReadableStream & { headers?: Record<string, string | string[] | undefined>; destroy?: () => void };

/**
 * Sends an engine's file answer (a tar) on to the caller, forwarding the named Engine headers, and
 * always lets go of the engine's stream, also when the caller went away midway.
 */
export async function sendEngineFile(ctx: ExecutionContext, file: NodeJS.ReadableStream, headerNames: string[] = []): Promise<number> {
  const stream = file as EngineStream;
  const forwarded: Record<string, string> = {};
  for (const name of headerNames) {
    const value = stream.headers?.[name.toLowerCase()];
    if (typeof value === 'string') forwarded[name] = value;
  }
  try {
    return await ctx.sendFile(stream as AsyncIterable<Buffer>, forwarded);
  } finally {
    stream.destroy?.();
  }
}

/** The job's upload for an engine call, and a signal that stops the call when the upload fails midway. */
export interface EngineUpload {
  body: NodeJS.ReadableStream;
  signal: AbortSignal;
  /** Throws the upload's own failure, when it failed: it says more than the aborted engine call. */
  rethrow(err: unknown): never;
}

export function engineUpload(ctx: ExecutionContext): EngineUpload {
  const failed = new AbortController();
  let failure: unknown;
  const body = ctx.upload();
  // Without this the engine would wait for the rest of a body that will never come, until the deadline.
  body.once('error', (err) => {
    failure = err;
    failed.abort();
  });
  return {
    body,
    signal: AbortSignal.any([ctx.signal, failed.signal]),
    rethrow: (err) => {
      throw failure ?? err;
    },
  };
}
