import type * as Http from 'node:http';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import type { JsonAnswer, JsonRequest, JsonTransport } from './transport';

/**
 * Calls over Node's own `http` module, for a short-lived process such as the CLI, in two shapes:
 * `httpTransport` for plain JSON calls and `httpFetch` (a `fetch`) for streams and files. Node's
 * global fetch (undici) costs a command twice: loading it takes 25–50 ms at the first use of
 * `fetch`, `Headers`, `Request` or `Response`, and a process that made a call with it waits
 * another ~250 ms at exit (measured: `fetch(…).then(() => process.exit())` 0.38–0.44 s, the same
 * call here 0.13–0.19 s). `httpTransport` touches none of fetch's classes; `httpFetch` builds them,
 * so only a command that streams pays the load. The modules load on first use: `fleet --version`
 * reads none of them. Failures look like fetch's, so the client tells them apart the same way: a
 * connection that fails is a `TypeError('fetch failed')` with the reason as its cause, an aborted
 * call rejects with the signal's reason.
 */

/** `http` or `https`, loaded when the first call needs it (https brings TLS and crypto with it). */
function moduleFor(url: URL): typeof Http {
  return url.protocol === 'https:' ? require('node:https') : require('node:http');
}

function connectionFailure(signal: AbortSignal | undefined | null, err: unknown): unknown {
  return signal?.aborted ? signal.reason : new TypeError('fetch failed', { cause: err });
}

/** What an `https` URL is verified with: `ca` (PEM) alone, instead of the system's CAs, when given. */
export interface HttpTls {
  ca?: string | Buffer;
}

/**
 * `httpTransport` and `httpFetch` that trust `tls.ca` for https URLs: a fleet whose gateway has a
 * certificate of its own CA (`fleet pki`, README "TLS").
 */
export function nodeHttp(tls: HttpTls): { transport: JsonTransport; fetch: typeof fetch } {
  return {
    transport: (request) => httpTransport(request, tls),
    fetch: (input, init) => httpFetch(input, init, tls),
  };
}

/** A plain JSON call: the answer is read whole. */
export function httpTransport({ method, url, headers, body, signal }: JsonRequest, tls: HttpTls = {}): Promise<JsonAnswer> {
  const target = new URL(url);
  return new Promise<JsonAnswer>((resolve, reject) => {
    const failed = (err: unknown) => reject(connectionFailure(signal, err));
    if (signal?.aborted) return failed(undefined);
    const outgoing = moduleFor(target).request(target, { method, headers, signal, ...tls }, (incoming) => {
      const chunks: Buffer[] = [];
      incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
      incoming.on('error', failed);
      incoming.on('end', () =>
        resolve({
          status: incoming.statusCode ?? 502,
          headers: flatHeaders(incoming.headers),
          text: Buffer.concat(chunks).toString('utf8'),
        }),
      );
    });
    outgoing.on('error', failed);
    outgoing.end(body);
  });
}

/** Repeated headers joined as fetch's `Headers` joins them. */
function flatHeaders(headers: Http.IncomingHttpHeaders): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers))
    if (value !== undefined) flat[name] = Array.isArray(value) ? value.join(', ') : value;
  return flat;
}

/** A `fetch` whose requests and answers stream both ways. */
export function httpFetch(input: RequestInfo | URL, init?: RequestInit, tls: HttpTls = {}): Promise<Response> {
  const request = input instanceof Request && init === undefined ? input : new Request(input, init);
  const url = new URL(request.url);
  const { Readable } = require('node:stream') as typeof import('node:stream');
  return new Promise<Response>((resolve, reject) => {
    const failed = (err: unknown) => reject(connectionFailure(request.signal, err));
    if (request.signal.aborted) return failed(undefined);
    const outgoing = moduleFor(url).request(
      url,
      { method: request.method, headers: Object.fromEntries(request.headers), signal: request.signal, ...tls },
      (incoming) => {
        resolve(toResponse(incoming, request.method, Readable));
      },
    );
    outgoing.on('error', failed);
    if (request.body)
      Readable.fromWeb(request.body as NodeReadableStream)
        .on('error', (err) => outgoing.destroy(err))
        .pipe(outgoing);
    else outgoing.end();
  });
}

function toResponse(incoming: Http.IncomingMessage, method: string, Readable: typeof import('node:stream').Readable): Response {
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
