import { createFleetClient, nodeHttp, type RawResponse } from '@fleet/sdk';

export interface ApiTarget {
  url: string;
  adminKey: string;
  /** The CA (PEM) an https gateway's certificate must chain to. */
  ca?: string;
}

export interface ApiOptions {
  /** API key to send; omitted means the fleet's admin key, null means no key at all. */
  key?: string | null;
  /** Sent as JSON. */
  body?: unknown;
  headers?: Record<string, string>;
  /** Fail the request (not the gateway) after this long, so a hang shows up as a clear error. */
  timeoutMs?: number;
}

/**
 * `{status, body, headers}`: `body` is the parsed JSON when the response says it is JSON, the raw text otherwise.
 * `any` by default: suites read response fields directly and assert on them; a wrong guess fails the assertion.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type ApiResponse<T = any> = RawResponse<T>;

/**
 * One gateway call: `await api(fleet, 'GET', '/agent')`. It goes through the
 * SDK's client (`@fleet/sdk`: the same openapi-fetch client, base URL and key
 * handling the CLI uses), as an untyped request: `path` is sent as given and
 * any status is returned for the suite to assert on.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function api<T = any>(fleet: ApiTarget, method: string, path: string, opts: ApiOptions = {}): Promise<ApiResponse<T>> {
  const key = opts.key === undefined ? fleet.adminKey : opts.key;
  const client = createFleetClient({ url: fleet.url, apiKey: key ?? undefined, ...(fleet.ca ? nodeHttp({ ca: fleet.ca }) : {}) });
  return client.raw(method, path, { body: opts.body, headers: opts.headers, signal: AbortSignal.timeout(opts.timeoutMs ?? 60_000) });
}

export interface ExpectedError {
  code: number;
  /** One of the contract's ErrorReason `x-reasons`. */
  reason: string;
  /** The short `error` text, exactly. */
  error: string;
  /** Text the `details` must contain; without it, any text. */
  details?: string;
}

/** The error body a refusal must answer (README "Error reasons"), to compare with `toEqual`. */
export function errorBody({ code, reason, error, details }: ExpectedError) {
  return { error, details: details === undefined ? expect.any(String) : expect.stringContaining(details), code, reason };
}

/** The 403 body naming the missing `permission`. */
export function forbiddenBody(permission: string) {
  return errorBody({ code: 403, reason: 'permission_denied', error: 'Forbidden - Insufficient permissions', details: `'${permission}'` });
}
