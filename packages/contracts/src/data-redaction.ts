/**
 * What a key without `docker:read-data` sees of a container's environment (README "Roles,
 * permissions and scope"): every variable's name, never its value. Secrets are passed to
 * containers there, and reading them is not "read".
 */
import type { NodeOperationName } from './operations';

export const REDACTED_VALUE = '<redacted>';

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `NAME=value` becomes `NAME=<redacted>`; a bare `NAME` (no value) stays; anything else is replaced whole. */
export function redactEnv(env: unknown): unknown {
  if (!Array.isArray(env)) return env === undefined || env === null ? env : REDACTED_VALUE;
  return env.map((entry) => {
    if (typeof entry !== 'string') return REDACTED_VALUE;
    const equals = entry.indexOf('=');
    return equals < 0 ? entry : `${entry.slice(0, equals)}=${REDACTED_VALUE}`;
  });
}

/**
 * An Engine container inspect answer with `Config.Env` redacted. Keys are matched without regard
 * to case, as the docker CLI (Go's encoding/json) decodes them: no spelling of them slips through.
 */
export function redactContainerInspect(inspect: unknown): unknown {
  if (!isObject(inspect)) return inspect;
  return mapKeys(inspect, 'config', (config) => (isObject(config) ? mapKeys(config, 'env', redactEnv) : config));
}

function mapKeys(object: Json, lowerCaseKey: string, map: (value: unknown) => unknown): Json {
  const copy: Json = {};
  for (const [key, value] of Object.entries(object)) copy[key] = key.toLowerCase() === lowerCaseKey ? map(value) : value;
  return copy;
}

/** The node operations whose rows hold a container's environment, and the field that holds it. */
const ROWS_WITH_ENV: Partial<Record<NodeOperationName, string>> = {
  'docker.container.inspect': 'container',
};

/** A row as a key without `docker:read-data` may read it; the row itself when it holds no environment. */
export function redactRow<Row extends object>(operation: string, row: Row): Row {
  const field = ROWS_WITH_ENV[operation as NodeOperationName];
  if (field === undefined || !(field in row)) return row;
  return { ...row, [field]: redactContainerInspect((row as Json)[field]) };
}

/** Engine API answers (x-engine-proxy endpoints, `METHOD path`) that hold a container's environment, and how to cut each. */
const ENGINE_ANSWERS_WITH_ENV: Record<string, (answer: unknown) => unknown> = {
  'GET /containers/{id}/json': redactContainerInspect,
};

/** How to cut an Engine endpoint's JSON answer for a key without `docker:read-data`; undefined when it holds no environment. */
export function engineAnswerRedaction(endpoint: { method: string; path: string }): ((answer: unknown) => unknown) | undefined {
  return ENGINE_ANSWERS_WITH_ENV[`${endpoint.method} ${endpoint.path}`];
}
