/**
 * Reads an engine stream of newline-delimited JSON (events, stats, pull
 * progress), calling `onValue` for each object, until the engine ends it or
 * `signal` aborts; resolves with how many objects it read.
 */
export function forEachJsonLine(stream: NodeJS.ReadableStream, signal: AbortSignal, onValue: (value: unknown) => void): Promise<number> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    let count = 0;
    const finish = () => {
      signal.removeEventListener('abort', stop);
      resolve(count);
    };
    const stop = () => {
      (stream as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
      finish();
    };
    if (signal.aborted) return stop();
    signal.addEventListener('abort', stop, { once: true });
    stream.on('data', (chunk: Buffer | string) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        if (!line.trim()) continue;
        try {
          onValue(JSON.parse(line));
          count++;
        } catch {
          // A torn or non-JSON line is skipped; the stream goes on.
        }
      }
    });
    stream.on('end', finish);
    stream.on('error', (err) => (signal.aborted ? finish() : reject(err)));
  });
}
