import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

export interface GatewayCall {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  /** The CA an https gateway's certificate must chain to (a fleet's own, `fleet pki`). */
  ca?: string;
  timeoutMs: number;
}

/**
 * One call to a fleet's gateway over Node's http or https (the global fetch takes no CA of its own):
 * the status and the body as text.
 */
export function callGateway(
  url: string,
  call: GatewayCall,
): Promise<{ status: number; text: string; headers: Record<string, string | string[] | undefined> }> {
  const target = new URL(url);
  const request = target.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const outgoing = request(
      target,
      { method: call.method ?? 'GET', headers: call.headers, ca: call.ca, signal: AbortSignal.timeout(call.timeoutMs) },
      (incoming) => {
        const chunks: Buffer[] = [];
        incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
        incoming.on('error', reject);
        incoming.on('end', () =>
          resolve({ status: incoming.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), headers: incoming.headers }),
        );
      },
    );
    outgoing.on('error', reject);
    outgoing.end(call.body);
  });
}
