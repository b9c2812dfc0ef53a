import { Readable } from 'node:stream';
import type Docker from 'dockerode';

/** A row's output: the beginning of each stream, and how many bytes each really produced. */
export interface Output {
  stdout: string;
  stderr: string;
  stdout_bytes: number;
  stderr_bytes: number;
  /** Set (true) only when a stream produced more than was kept. */
  truncated?: true;
}

/** Where the two streams go instead of being collected (a followed log emits them as they come). */
export interface OutputSinks {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

/**
 * Splits the engine's multiplexed stdout/stderr framing with dockerode's own
 * demuxer (which passes a TTY's unframed output through as stdout) and
 * resolves when the source ends or `signal` aborts. Each stream keeps at most
 * `maxBytes` (a row must fit a NATS message, and the agent's memory must not
 * grow with the output) and counts the rest. With `sinks`, output goes there
 * and resolves empty.
 */
export function demultiplex(
  modem: Docker['modem'],
  source: NodeJS.ReadableStream | Buffer,
  signal: AbortSignal,
  maxBytes: number,
  sinks?: OutputSinks,
): Promise<Output> {
  const stream = Buffer.isBuffer(source) ? Readable.from([source]) : source;
  const stdout = collector(maxBytes);
  const stderr = collector(maxBytes);
  return new Promise((resolve, reject) => {
    const stop = () => (stream as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
    if (signal.aborted) stop();
    signal.addEventListener('abort', stop, { once: true });
    const finish = () => {
      signal.removeEventListener('abort', stop);
      const truncated = stdout.truncated() || stderr.truncated();
      resolve({
        stdout: stdout.text(),
        stderr: stderr.text(),
        stdout_bytes: stdout.bytes(),
        stderr_bytes: stderr.bytes(),
        ...(truncated ? { truncated } : {}),
      });
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

interface Collector {
  sink: NodeJS.WritableStream;
  text: () => string;
  bytes: () => number;
  truncated: () => true | false;
}

function collector(maxBytes: number): Collector {
  const chunks: Buffer[] = [];
  let kept = 0;
  let seen = 0;
  // demuxStream only ever calls write(); collecting synchronously keeps every frame before 'end'.
  const write = (chunk: Buffer) => {
    seen += chunk.length;
    if (kept < maxBytes) {
      // A copy of just the part kept: a subarray would pin the engine's whole frame buffer.
      const part = Buffer.from(chunk.subarray(0, maxBytes - kept));
      chunks.push(part);
      kept += part.length;
    }
    return true;
  };
  return {
    sink: { write } as unknown as NodeJS.WritableStream,
    text: () => (seen > kept ? withoutSplitCharacter(Buffer.concat(chunks)) : Buffer.concat(chunks)).toString('utf8'),
    bytes: () => seen,
    truncated: () => seen > kept,
  };
}

/** A cut in the middle of a UTF-8 character would decode as U+FFFD: end at the last whole character. */
function withoutSplitCharacter(buffer: Buffer): Buffer {
  let start = buffer.length - 1;
  // Walk back over continuation bytes (10xxxxxx) to the lead byte of the last character.
  while (start > 0 && start > buffer.length - 4 && (buffer[start] & 0xc0) === 0x80) start--;
  if (start < 0 || (buffer[start] & 0x80) === 0) return buffer;
  const lead = buffer[start];
  const length = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
  return start + length > buffer.length ? buffer.subarray(0, start) : buffer;
}
