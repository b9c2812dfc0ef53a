import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { httpFetch, httpTransport } from './node-http';

let server: http.Server;
let base: string;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    if (req.url === '/json')
      return res.writeHead(200, { 'content-type': 'application/json', 'set-cookie': ['a=1', 'b=2'] }).end('{"ok":true}');
    if (req.url === '/echo') {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      return req.on('end', () =>
        res
          .writeHead(201, { 'content-type': 'text/plain' })
          .end(`${req.method} ${req.headers.authorization} ${Buffer.concat(chunks).toString()}`),
      );
    }
    if (req.url === '/stream') {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('event: one\n\n');
      return setTimeout(() => res.end('event: two\n\n'), 50);
    }
    if (req.url === '/empty') return res.writeHead(204).end();
    if (req.url === '/slow') return setTimeout(() => res.end('late'), 2_000);
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise((resolve) => server.close(resolve)));

describe('httpFetch', () => {
  it('answers a GET with its status, headers (repeated ones kept) and body', async () => {
    const res = await httpFetch(`${base}/json`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(res.headers.getSetCookie()).toEqual(['a=1', 'b=2']);
    expect(await res.json()).toEqual({ ok: true });
  });

  it('sends the method, headers and body of a Request', async () => {
    const res = await httpFetch(new Request(`${base}/echo`, { method: 'POST', headers: { authorization: 'Bearer k' }, body: 'hello' }));
    expect(res.status).toBe(201);
    expect(await res.text()).toBe('POST Bearer k hello');
  });

  it('streams a request body and an answer as they come', async () => {
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('part1 '));
        controller.enqueue(new TextEncoder().encode('part2'));
        controller.close();
      },
    });
    const echoed = await httpFetch(`${base}/echo`, { method: 'PUT', body, duplex: 'half' } as RequestInit);
    expect(await echoed.text()).toBe('PUT undefined part1 part2');
    const reader = (await httpFetch(`${base}/stream`)).body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe('event: one\n\n');
    expect(new TextDecoder().decode((await reader.read()).value)).toBe('event: two\n\n');
  });

  it('gives a 204 no body', async () => {
    const res = await httpFetch(`${base}/empty`);
    expect(res.status).toBe(204);
    expect(res.body).toBeNull();
  });

  it("fails like fetch: a refused connection is TypeError('fetch failed') with its cause, a timeout the signal's reason", async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const refused = await httpFetch(`http://127.0.0.1:${port}/`).catch((err: unknown) => err as TypeError & { cause: { code: string } });
    expect(refused).toMatchObject({ name: 'TypeError', message: 'fetch failed', cause: { code: 'ECONNREFUSED' } });
    const timedOut = await httpFetch(`${base}/slow`, { signal: AbortSignal.timeout(100) }).catch((err: unknown) => err as Error);
    expect(timedOut).toMatchObject({ name: 'TimeoutError' });
  });
});

describe('httpTransport', () => {
  it('sends a JSON call and reads its answer whole, repeated headers joined', async () => {
    const answer = await httpTransport({ method: 'GET', url: `${base}/json`, headers: {} });
    expect(answer).toMatchObject({
      status: 200,
      text: '{"ok":true}',
      headers: { 'content-type': 'application/json', 'set-cookie': 'a=1, b=2' },
    });
    const echoed = await httpTransport({ method: 'POST', url: `${base}/echo`, headers: { authorization: 'Bearer k' }, body: '{"a":1}' });
    expect(echoed).toMatchObject({ status: 201, text: 'POST Bearer k {"a":1}' });
    expect(await httpTransport({ method: 'GET', url: `${base}/empty`, headers: {} })).toMatchObject({ status: 204, text: '' });
  });

  it("fails like fetch: a refused connection is TypeError('fetch failed') with its cause, a timeout the signal's reason", async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const refused = await httpTransport({ method: 'GET', url: `http://127.0.0.1:${port}/`, headers: {} }).catch((err: unknown) => err);
    expect(refused).toMatchObject({ name: 'TypeError', message: 'fetch failed', cause: { code: 'ECONNREFUSED' } });
    const timedOut = await httpTransport({ method: 'GET', url: `${base}/slow`, headers: {}, signal: AbortSignal.timeout(100) }).catch(
      (err: unknown) => err,
    );
    expect(timedOut).toMatchObject({ name: 'TimeoutError' });
  });
});
