/** One plain JSON call as the client sends it: the body is JSON text already, the headers are final. */
export interface JsonRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string;
  signal?: AbortSignal;
}

/** Its answer, read whole: header names are lower case. */
export interface JsonAnswer {
  status: number;
  headers: Record<string, string>;
  text: string;
}

/**
 * How the client's plain JSON calls travel (every helper but streams, feeds and files). A failed
 * connection rejects like fetch does, with `TypeError('fetch failed')` and the reason as its cause;
 * an aborted call rejects with the signal's reason.
 */
export type JsonTransport = (request: JsonRequest) => Promise<JsonAnswer>;

/** JSON calls over a fetch implementation: the default, and what a browser or a test proxy uses. */
export function fetchTransport(fetchImpl: typeof fetch = globalThis.fetch): JsonTransport {
  return async ({ method, url, headers, body, signal }) => {
    const response = await fetchImpl(url, { method, headers, body, signal });
    return { status: response.status, headers: Object.fromEntries(response.headers), text: await response.text() };
  };
}
