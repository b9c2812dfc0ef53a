import http from 'node:http';
import https from 'node:https';
import { Readable } from 'node:stream';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';

/**
 * `fetch` over Node's own `http` module, for a short-lived process such as the CLI. Node's global
 * fetch (undici) keeps a process that made one call alive for another ~250 ms at exit (measured:
 * `fetch(…).then(() => process.exit())` 0.38–0.44 s, the same call here 0.13–0.19 s); a command a
 * pipeline runs on every step should not pay that. Requests and answers stream both ways, and
 * failures look like fetch's, so FleetClient tells them apart the same way: a connection that
 * fails is a `TypeError('fetch failed')` with the reason as its cause, an aborted call rejects
 * with the signal's reason.
 */
export function httpFetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
  const request = input instanceof Request && init === undefined ? input : new Request(input, init);
  const url = new URL(request.url);
  const transport = url.protocol === 'https:' ? https : http;
  return new Promise<Response>((resolve, reject) => {
    const failed = (err: unknown) => reject(request.signal.aborted ? request.signal.reason : new TypeError('fetch failed', { cause: err }));
    if (request.signal.aborted) return failed(undefined);
    const outgoing = transport.request(url, { method: request.method, headers: Object.fromEntries(request.headers), signal: request.signal }, (incoming) => {
      resolve(toResponse(incoming, request.method));
    });
    outgoing.on('error', failed);
    if (request.body) Readable.fromWeb(request.body as NodeReadableStream).on('error', (err) => outgoing.destroy(err)).pipe(outgoing);
    else outgoing.end();
  });
}

function toResponse(incoming: http.IncomingMessage, method: string): Response {
  const headers = new Headers();
  for (const [name, value] of Object.entries(incoming.headers)) {
    if (Array.isArray(value)) for (const item of value) headers.append(name, item);
    else if (value !== undefined) headers.set(name, value);
  }
  const status = incoming.statusCode ?? 502;
  // These answers have no body by definition; a Response refuses one for 204 and 304.
  const bodiless = method === 'HEAD' || status === 204 || status === 304;
  if (bodiless) incoming.resume();
  const body = bodiless ? null : (Readable.toWeb(incoming) as ReadableStream<Uint8Array>);
  return new Response(body, { status, statusText: incoming.statusMessage, headers });
}
