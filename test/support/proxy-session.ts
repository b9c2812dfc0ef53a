import { randomUUID } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import {
  decodeProxyFrame,
  encodeProxyFrame,
  PROXY_FRAME,
  proxyFrameJson,
  proxyRequestSubject,
  proxyResponseSubject,
  type ProxyOpen,
} from '@fleet/contracts/protocol';

/**
 * Opens an Engine API proxy session with `nc` as the gateway would (or as a thief of its NATS login
 * would) and returns the first HEAD or ABORT `host`'s agent answers, within 10 s.
 */
export async function openProxySession(
  nc: NatsConnection,
  host: string,
  open: ProxyOpen,
  session = randomUUID().replace(/-/g, ''),
): Promise<{ kind: number; json: unknown }> {
  const answers = nc.subscribe(proxyResponseSubject(host, session));
  nc.publish(proxyRequestSubject(host, session), encodeProxyFrame(PROXY_FRAME.OPEN, open));
  const timer = setTimeout(() => answers.unsubscribe(), 10_000);
  try {
    for await (const msg of answers) {
      const frame = decodeProxyFrame(msg.data);
      if (frame.kind === PROXY_FRAME.HEAD || frame.kind === PROXY_FRAME.ABORT)
        return { kind: frame.kind, json: proxyFrameJson(frame.payload) };
    }
  } finally {
    clearTimeout(timer);
    answers.unsubscribe();
  }
  throw new Error(`no answer from ${host}'s agent within 10 s`);
}
