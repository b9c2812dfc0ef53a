import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';

export interface NatsOptions {
  servers: string | string[];
  name: string;
  user?: string;
  pass?: string;
}

/**
 * Connects with endless reconnects: a broker restart must never need a
 * process restart. Connection state changes are logged.
 */
export async function connectNats(opts: NatsOptions, log: Logger): Promise<NatsConnection> {
  const nc = await connect({
    servers: opts.servers,
    name: opts.name,
    user: opts.user,
    pass: opts.pass,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    waitOnFirstConnect: true,
  });
  logStatus(nc, log);
  return nc;
}

async function logStatus(nc: NatsConnection, log: Logger): Promise<void> {
  for await (const status of nc.status()) {
    if (status.type === 'disconnect' || status.type === 'reconnect' || status.type === 'error') {
      log.warn({ nats_status: status.type, server: 'server' in status ? status.server : undefined }, 'nats connection status');
    }
  }
}

export type BucketChange = { key: string; deleted: boolean; value: Uint8Array };

/**
 * Follows every write to a KV bucket through a core subscription on its
 * subjects. Unlike a consumer, a core subscription is restored by the client
 * after a reconnect with no server-side state to rebuild, so a broker restart
 * cannot leave the feed stuck.
 */
export function followBucket(nc: NatsConnection, bucket: string, onChange: (change: BucketChange) => void): () => void {
  const prefix = `$KV.${bucket}.`;
  const sub = nc.subscribe(`${prefix}>`, {
    callback: (err, msg) => {
      if (err) return;
      const op = msg.headers?.get('KV-Operation');
      onChange({ key: msg.subject.slice(prefix.length), deleted: op === 'DEL' || op === 'PURGE', value: msg.data });
    },
  });
  return () => sub.unsubscribe();
}
