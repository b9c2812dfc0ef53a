import { Readable } from 'node:stream';
import type Docker from 'dockerode';

export interface Output {
  stdout: string;
  stderr: string;
}

/** Where the two streams go instead of being collected (a followed log emits them as they come). */
export interface OutputSinks {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

/**
 * Splits the engine's multiplexed stdout/stderr framing with dockerode's own
 * demuxer (which passes a TTY's unframed output through as stdout) and
 * resolves when the source ends or `signal` aborts. A Buffer (non-follow logs)
 * is read as a stream. With `sinks`, output goes there and resolves empty.
 */
export function demultiplex(modem: Docker['modem'], source: NodeJS.ReadableStream | Buffer, signal: AbortSignal, sinks?: OutputSinks): Promise<Output> {
  const stream = Buffer.isBuffer(source) ? Readable.from([source]) : source;
  const stdout = collector();
  const stderr = collector();
  return new Promise((resolve, reject) => {
    const stop = () => (stream as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
    if (signal.aborted) stop();
    signal.addEventListener('abort', stop, { once: true });
    const finish = () => {
      signal.removeEventListener('abort', stop);
      resolve({ stdout: stdout.text(), stderr: stderr.text() });
    };
    modem.demuxStream(stream, sinks?.stdout ?? stdout.sink, sinks?.stderr ?? stderr.sink);
    stream.once('end', finish);
    stream.once('close', finish);
    stream.once('error', (err) => {
      signal.removeEventListener('abort', stop);
      reject(err);
    });
  });
}

function collector(): { sink: NodeJS.WritableStream; text: () => string } {
  const chunks: Buffer[] = [];
  // demuxStream only ever calls write(); collecting synchronously keeps every frame before 'end'.
  const sink = { write: (chunk: Buffer) => chunks.push(chunk) > 0 } as unknown as NodeJS.WritableStream;
  return { sink, text: () => Buffer.concat(chunks).toString('utf8') };
}
