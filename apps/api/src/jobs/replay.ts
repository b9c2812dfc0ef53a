import type { JobReplay } from '@fleet/contracts/protocol';
import type { JobRequest } from './job-request';

/**
 * What a job's record keeps to run it again. A credential, a file body and environment values are
 * never stored (README "Rerunning a job"), and a stream or a file was its first caller's answer:
 * such a job says why it cannot be rerun, and its caller calls again.
 */
export function replayOf(request: JobRequest): JobReplay {
  if (request.secret !== undefined) return { refused: 'it carried a credential (X-Registry-Auth), which is never stored' };
  if (request.upload) return { refused: 'its body was a file, which is deleted when the job ends' };
  if (request.onChunk) return { refused: 'it answered with a stream, which only its first caller could follow' };
  if (request.download) return { refused: 'it answered with a file, which only its first caller could take' };
  if (carriesEnvironment(request.params)) return { refused: 'it carried environment values, which are never stored' };
  return { params: request.params, timeout_seconds: request.timeoutSeconds };
}

/**
 * Whether any object in the parameters has an `Env` field (any case: the Engine reads JSON field
 * names case-insensitively) or a stack service's `environment` with a value. Walked without
 * recursion: parameters may nest deep.
 */
const ENVIRONMENT_FIELDS = new Set(['env', 'environment']);

function carriesEnvironment(params: Record<string, unknown>): boolean {
  const pending: unknown[] = [params];
  while (pending.length > 0) {
    const value = pending.pop();
    if (value === null || typeof value !== 'object') continue;
    for (const [key, field] of Object.entries(value)) {
      if (ENVIRONMENT_FIELDS.has(key.toLowerCase()) && hasContent(field)) return true;
      pending.push(field);
    }
  }
  return false;
}

function hasContent(value: unknown): boolean {
  if (Array.isArray(value)) return value.length > 0;
  if (value !== null && typeof value === 'object') return Object.keys(value).length > 0;
  return value !== null && value !== undefined && value !== '';
}
