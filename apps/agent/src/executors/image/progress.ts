import { forEachJsonLine } from '../../ndjson';
import type { ExecutionContext } from '../types';

/** One line of the engine's pull or push progress stream. */
interface ProgressLine {
  status?: string;
  /** Set on per-layer lines (the layer) and on `Pulling from` (the tag). */
  id?: string;
  error?: string;
  errorDetail?: { message?: string };
  aux?: { Digest?: string };
}

/** What a finished pull or push reported. */
export interface Transfer {
  /** The statuses that are not about one layer (`Status: Downloaded newer image for …`, `t1: digest: … size: …`), in order. */
  summary: string[];
  /** The manifest digest, when the engine reported one. */
  digest?: string;
  /** Layers whose download or upload completed. */
  layers: number;
}

const LAYER_DONE = new Set(['Pull complete', 'Pushed']);
const DIGEST_STATUS = /^Digest: (sha256:[a-f0-9]{64})$/;

/**
 * Reads a pull or push progress stream to its end. The engine answers both
 * with HTTP 200 once it has started streaming and reports a later failure only
 * inside the stream (an `error` line): that becomes a thrown error, so the row
 * fails with the engine's message. With `relay`, every line also goes to the
 * caller as a `progress` chunk.
 */
export async function followTransfer(
  stream: NodeJS.ReadableStream,
  { signal, emit }: Pick<ExecutionContext, 'signal' | 'emit'>,
  relay: boolean,
): Promise<Transfer> {
  const transfer: Transfer = { summary: [], layers: 0 };
  let failure: string | undefined;
  await forEachJsonLine(stream, signal, (value) => {
    const line = value as ProgressLine;
    if (relay) emit('progress', line);
    failure ??= line.error ?? line.errorDetail?.message;
    transfer.digest ??= line.aux?.Digest ?? DIGEST_STATUS.exec(line.status ?? '')?.[1];
    if (!line.status) return;
    if (LAYER_DONE.has(line.status)) transfer.layers++;
    if (line.id === undefined) transfer.summary.push(line.status);
  });
  if (failure) throw streamFailure(failure);
  if (signal.aborted) throw new Error('stopped before the engine finished: deadline reached or client gone');
  return transfer;
}

/**
 * The `authconfig` dockerode sends as `X-Registry-Auth`: the caller's header,
 * else an empty one, as the docker CLI sends (some engines refuse a push
 * without the header). Go's base64.URLEncoding wants the URL alphabet and
 * padding; JavaScript's `base64url` drops the padding and some clients send
 * plain base64, which the engine would silently read as no credential at all,
 * so both are normalized.
 */
export function registryAuth(secret: string | undefined): { base64: string } | Record<string, never> {
  if (!secret) return {};
  const unpadded = secret.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  return { base64: unpadded + '='.repeat((4 - (unpadded.length % 4)) % 4) };
}

/**
 * A failure reported inside the stream has no HTTP status of its own; the
 * engine's words say which kind it is, so the row (and a single-host answer)
 * gets 404 or 400 instead of a blanket 500.
 */
function streamFailure(message: string): Error & { statusCode: number; json: { message: string } } {
  const statusCode = /does not exist locally|not found|manifest unknown/i.test(message)
    ? 404
    : /invalid reference format|must be lowercase|repository name/i.test(message)
      ? 400
      : 500;
  return Object.assign(new Error(message), { statusCode, json: { message } });
}
