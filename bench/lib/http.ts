import { Agent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

export interface HttpResult {
  status: number;
  body: string;
  bytes: number;
  /** Milliseconds from sending the request to the last byte of the body. */
  ms: number;
}

/**
 * A lean keep-alive JSON client on node:http, so the client adds as little as
 * possible to what is measured (fetch costs more per call).
 */
export class HttpClient {
  private readonly agent: Agent;
  private readonly origin: URL;

  private readonly request: typeof httpRequest;

  /** An https `baseUrl` is verified with `ca`; `keepAlive: false` opens a new connection (and TLS session) per call. */
  constructor(
    baseUrl: string,
    private readonly headers: Record<string, string>,
    maxSockets = 1,
    opts: { ca?: string; keepAlive?: boolean } = {},
  ) {
    this.origin = new URL(baseUrl);
    const keepAlive = opts.keepAlive ?? true;
    const secure = this.origin.protocol === 'https:';
    this.agent = secure ? new HttpsAgent({ keepAlive, maxSockets, ca: opts.ca }) : new Agent({ keepAlive, maxSockets });
    this.request = (secure ? httpsRequest : httpRequest) as typeof httpRequest;
  }

  call(method: string, path: string, body?: unknown, timeoutMs = 60_000): Promise<HttpResult> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const started = performance.now();
    return new Promise((resolve, reject) => {
      const req = this.request(
        {
          host: this.origin.hostname,
          port: this.origin.port,
          method,
          path,
          agent: this.agent,
          headers: {
            ...this.headers,
            ...(payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }),
          },
          timeout: timeoutMs,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => {
            const buffer = Buffer.concat(chunks);
            resolve({ status: res.statusCode ?? 0, body: buffer.toString('utf8'), bytes: buffer.length, ms: performance.now() - started });
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out after ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end(payload);
    });
  }

  async json<T>(method: string, path: string, body?: unknown, expect: number[] = [200, 202]): Promise<{ value: T; result: HttpResult }> {
    const result = await this.call(method, path, body);
    if (!expect.includes(result.status)) throw new Error(`${method} ${path} answered ${result.status}: ${result.body.slice(0, 300)}`);
    return { value: JSON.parse(result.body) as T, result };
  }

  close(): void {
    this.agent.destroy();
  }
}
