export interface ApiTarget {
  url: string;
  adminKey: string;
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

// `any` by default: suites read response fields directly and assert on them; a wrong guess fails the assertion.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export interface ApiResponse<T = any> {
  status: number;
  /** Parsed JSON when the response says it is JSON, the raw text otherwise. */
  body: T;
  headers: Record<string, string>;
}

/** One gateway call: `await api(fleet, 'GET', '/agent')`. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function api<T = any>(fleet: ApiTarget, method: string, path: string, opts: ApiOptions = {}): Promise<ApiResponse<T>> {
  const res = await fetch(`${fleet.url}${path}`, {
    method,
    headers: requestHeaders(fleet, opts),
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    signal: AbortSignal.timeout(opts.timeoutMs ?? 60_000),
  });
  const text = await res.text();
  const isJson = (res.headers.get('content-type') ?? '').includes('json') && text !== '';
  return { status: res.status, body: isJson ? JSON.parse(text) : text, headers: Object.fromEntries(res.headers) };
}

function requestHeaders(fleet: ApiTarget, opts: ApiOptions): Record<string, string> {
  const headers: Record<string, string> = {};
  const key = opts.key === undefined ? fleet.adminKey : opts.key;
  if (key !== null) headers.authorization = `Bearer ${key}`;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  return { ...headers, ...opts.headers };
}
