import Docker from 'dockerode';
import pino from 'pino';
import type { NodeOperationName } from '@fleet/contracts/operations';
import type { EngineClient, ExecutionContext, Executor, Outcome } from './types';

/**
 * A fake engine for the executors' tests (one file per family, README "Adding a Docker operation"): it records
 * every call an executor makes, in order, and answers only the calls a test gives an answer for; any other call
 * fails the test, naming itself.
 */

/** One call an executor made: `listContainers`, `container(web).stop`, `modem.dial`, with its arguments. */
export interface EngineCall {
  call: string;
  args: unknown[];
}

/**
 * What the engine answers, by call: `listContainers` on the engine, `container.stop` on any container handle or
 * `container(web).stop` on one, `modem.dial` with the dial's options. An answer may throw (see engineError).
 */
export type EngineAnswers = Record<string, (...args: any[]) => unknown>; // eslint-disable-line @typescript-eslint/no-explicit-any

export interface FakeEngine {
  docker: EngineClient;
  calls: EngineCall[];
  /** An object handle as `getContainer(id)` gives one: its calls are recorded and answered like the engine's own. */
  handle(kind: string, id: string, fields?: Record<string, unknown>): Record<string, unknown>;
}

const HANDLES = { getContainer: 'container', getImage: 'image', getNetwork: 'network', getVolume: 'volume' } as const;

/** dockerode's own demuxer: the frame parsing under test is the engine client's, not a copy of it. */
const REAL_MODEM = new Docker({ socketPath: '/nonexistent' }).modem;

export function fakeEngine(answers: EngineAnswers): FakeEngine {
  const calls: EngineCall[] = [];
  // Always a promise, as dockerode's calls are: an answer that throws is a rejection, as the engine's errors are.
  const answer = (key: string, call: string, args: unknown[]): Promise<unknown> => {
    calls.push({ call, args });
    const respond = answers[call] ?? answers[key];
    if (!respond) return Promise.reject(new Error(`the fake engine has no answer for ${call}`));
    return new Promise((resolve) => resolve(respond(...args)));
  };
  const handle = (kind: string, id: string, fields: Record<string, unknown> = {}) =>
    new Proxy(fields, {
      get: (target, method) => {
        if (typeof method !== 'string' || method === 'then') return undefined;
        if (method in target) return target[method];
        return (...args: unknown[]) => answer(`${kind}.${method}`, `${kind}(${id}).${method}`, args);
      },
    });
  const modem = {
    demuxStream: REAL_MODEM.demuxStream.bind(REAL_MODEM),
    dial: (options: { path: string; method: string; options?: unknown }, callback: (err: unknown, data?: unknown) => void) => {
      answer('modem.dial', 'modem.dial', [{ path: options.path, method: options.method, options: options.options }]).then(
        (data) => callback(null, data),
        (err) => callback(err),
      );
    },
  };
  const docker = new Proxy({} as Record<string, unknown>, {
    get: (_target, name) => {
      if (typeof name !== 'string' || name === 'then') return undefined;
      if (name === 'modem') return modem;
      if (name in HANDLES) return (id: string) => handle(HANDLES[name as keyof typeof HANDLES], id);
      return (...args: unknown[]) => answer(name, name, args);
    },
  });
  return { docker: docker as unknown as EngineClient, calls, handle };
}

/** An error as dockerode raises it for an Engine answer: the status and the Engine's JSON body. */
export function engineError(statusCode: number, message: string): Error {
  return Object.assign(new Error(`(HTTP code ${statusCode}) ${message}`), { statusCode, json: { message } });
}

/** A job's context around the fake engine: no upload, no file answer, no credential, chunks dropped; override what a case needs. */
export function contextOf(docker: EngineClient, overrides: Partial<ExecutionContext> = {}): ExecutionContext {
  return {
    jobId: 'job-1',
    docker,
    deadline: Date.now() + 5_000,
    signal: new AbortController().signal,
    log: pino({ level: 'silent' }),
    emit: () => undefined,
    secret: async () => undefined,
    maxOutputBytes: 256 * 1024,
    upload: () => {
      throw new Error('this job has no upload');
    },
    sendFile: async () => {
      throw new Error('this job answers with no file');
    },
    ...overrides,
  };
}

/** One frame of the engine's multiplexed stdout/stderr stream (stream type 1 stdout, 2 stderr). */
export function frame(stream: 1 | 2, text: string): Buffer {
  const payload = Buffer.from(text);
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

/** Runs one executor against a fake engine giving `answers`: the row it answered and the engine calls it made, in order. */
export async function runExecutor<N extends NodeOperationName>(
  executor: Executor<N>,
  input: Parameters<Executor<N>>[0],
  answers: EngineAnswers,
): Promise<{ outcome: Outcome<N>; calls: EngineCall[] }> {
  const engine = fakeEngine(answers);
  return { outcome: await executor(input, contextOf(engine.docker)), calls: engine.calls };
}
