import Docker from 'dockerode';

/** A Docker failure as a result row carries it: the engine's message and an HTTP-style class. */
export interface EngineFailure {
  error: string;
  error_code: number;
}

interface ModemError {
  statusCode?: number;
  json?: { message?: string } | null;
  reason?: string;
  code?: string;
  message?: string;
}

const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOENT', 'EACCES', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT']);

export function createDockerClient(dockerHost = process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock'): Docker {
  const socketPath = dockerHost.replace(/^unix:\/\//, '');
  return new Docker({ socketPath });
}

export function describeEngineError(err: unknown): EngineFailure {
  const e = (err ?? {}) as ModemError;
  if (e.code && UNREACHABLE.has(e.code)) {
    return { error: `docker engine unavailable: ${e.message ?? e.code}`, error_code: 502 };
  }
  const message = e.json?.message ?? causeInMessage(e.message) ?? e.reason ?? e.message ?? String(err);
  if (typeof e.statusCode === 'number') return { error: message, error_code: classify(e.statusCode, message) };
  return { error: message, error_code: 500 };
}

/**
 * On streamed calls docker-modem has no parsed body (`json` is null) and keeps
 * the engine's words only in its message: `(HTTP code 500) server error - <cause>`.
 */
function causeInMessage(message: string | undefined): string | undefined {
  return /^\(HTTP code \d+\) [^-]*- ([\s\S]*?)\s*$/.exec(message ?? '')?.[1] || undefined;
}

/**
 * State conflicts Engine 20.10 answers with a 500 (a plain error, not errdefs.Conflict), known by their message:
 * not server faults. A container being removed cannot be connected to or disconnected from a network.
 */
const CONFLICTS_ANSWERED_AS_500 = [/is not connected to the network/i, /is marked for removal and cannot be connected or disconnected/i];
/**
 * Bad input Engine 20.10 answers with a 500 (errdefs.System around the caller's own value): an image reference it
 * cannot parse (image save's names), or a container `user` that is not in the image's passwd or group file, found
 * only when the container starts.
 */
const BAD_INPUT_ANSWERED_AS_500 = [/invalid reference format/i, /unable to find (user|group) /i];

function classify(statusCode: number, message: string): number {
  if (statusCode === 400 || statusCode === 404 || statusCode === 409) return statusCode;
  if (statusCode === 500 && BAD_INPUT_ANSWERED_AS_500.some((pattern) => pattern.test(message))) return 400;
  // The engine's 403 is a refusal in the object's current state (endpoint already in the network, network still in use): a conflict.
  if (statusCode === 403) return 409;
  if (statusCode === 500 && CONFLICTS_ANSWERED_AS_500.some((pattern) => pattern.test(message))) return 409;
  return 500;
}

/** The engine answers 304 when the state asked for is already there (start a running container, stop a stopped one). */
export function isNotModified(err: unknown): boolean {
  return (err as ModemError)?.statusCode === 304;
}
