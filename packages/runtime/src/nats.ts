import { isIP } from 'node:net';
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { kvKeyOf, kvSubject } from '@fleet/contracts/protocol';
import { GATEWAY_RECONNECT, ReconnectBackoff, type ReconnectPacing } from './reconnect-backoff';

export { AGENT_RECONNECT, GATEWAY_RECONNECT, type ReconnectPacing } from './reconnect-backoff';

export interface NatsOptions {
  /** One URL, a comma-separated list (`nats://a:4222,nats://b:4222`, as FLEET_NATS_URL may hold), or an array. */
  servers: string | string[];
  name: string;
  /**
   * A creds file's content (user JWT and NKey seed): the login proves it holds the seed by signing the server's nonce. None: a NATS
   * without logins.
   */
  creds?: string;
  /** Where replies arrive; agents use their own, which their permissions confine them to. */
  inboxPrefix?: string;
  /**
   * The CA that signed the server's certificate (README "TLS"). Set, the connection must be TLS and the server
   * must prove its name with a certificate of this CA: a server that offers no TLS is refused, never used in clear.
   */
  caFile?: string;
  /** The wait between reconnect attempts; default GATEWAY_RECONNECT (README "Broker restarts"). */
  reconnect?: ReconnectPacing;
}

/**
 * Connects with endless reconnects: a broker restart must never need a
 * process restart. Attempts are paced by a jittered, bounded backoff.
 * Connection state changes are logged.
 */
export async function connectNats(opts: NatsOptions, log: Logger): Promise<NatsConnection> {
  const backoff = new ReconnectBackoff(opts.reconnect ?? GATEWAY_RECONNECT);
  const nc = await connect({
    servers: serverList(opts.servers),
    name: opts.name,
    ...natsLogin(opts.creds),
    inboxPrefix: opts.inboxPrefix,
    tls: natsTls(opts),
    maxReconnectAttempts: -1,
    // The client's own pacing (a fixed wait plus at most 1 s of jitter) keeps a whole fleet in step: every agent
    // would dial a restarted broker within the same second. The backoff's wait is taken once per attempt instead.
    reconnectDelayHandler: () => 0,
    reconnectToServer: (pool) => ({ server: pool[0], delay: backoff.nextDelayMs() }),
    waitOnFirstConnect: true,
    // Without this the client builds two Error objects (with stack traces) for every request, i.e. every
    // JetStream publish and KV write, only to improve the stack of a timeout; errors keep their messages.
    noAsyncTraces: true,
  });
  backoff.reset();
  followStatus(nc, log, backoff);
  return nc;
}

/** The connect options that log in with `creds` (none without). */
export function natsLogin(creds: string | undefined): { authenticator?: ReturnType<typeof credsAuthenticator> } {
  // The client's parser wants each block's closing line ended; a setting read from a file comes trimmed.
  return creds ? { authenticator: credsAuthenticator(new TextEncoder().encode(`${creds.trimEnd()}\n`)) } : {};
}

type IdentityCheck = (host: string, cert: PeerCertificate) => Error | undefined;

/** A `tls://` URL without a CA file still requires TLS, verified against the system's CAs. */
function natsTls(opts: NatsOptions): { caFile?: string; checkServerIdentity: IdentityCheck } | undefined {
  const servers = serverList(opts.servers);
  const identity = serverIdentityCheck(servers);
  if (opts.caFile) return { caFile: opts.caFile, checkServerIdentity: identity };
  return servers.some((server) => server.startsWith('tls://')) ? { checkServerIdentity: identity } : undefined;
}

/**
 * The client names no server when it dials an IP address (no SNI for IPs), so Node checks the certificate
 * against `localhost` instead of the address dialled, and a certificate made for that address is refused. Then
 * the certificate must name `localhost` or one of the IP addresses in the server list (which of them this
 * connection reached, the client does not say); a server dialled by name is checked against that name as usual.
 */
export function serverIdentityCheck(servers: string[]): IdentityCheck {
  const addresses = servers.map(hostOfUrl).filter((host) => isIP(host) !== 0);
  return (host, cert) => {
    const named = checkServerIdentity(host, cert);
    if (!named || host !== 'localhost') return named;
    return addresses.some((address) => checkServerIdentity(address, cert) === undefined) ? undefined : named;
  };
}

function hostOfUrl(server: string): string {
  try {
    return new URL(server.includes('://') ? server : `nats://${server}`).hostname.replace(/^\[(.*)\]$/, '$1');
  } catch {
    return '';
  }
}

/** The client takes a string as one URL, so a comma-separated list is split here (blanks and spaces dropped). */
export function serverList(servers: string | string[]): string[] {
  return (Array.isArray(servers) ? servers : servers.split(',')).map((server) => server.trim()).filter((server) => server !== '');
}

/** Logs connection state changes; a reconnect starts the backoff over. */
async function followStatus(nc: NatsConnection, log: Logger, backoff: ReconnectBackoff): Promise<void> {
  for await (const status of nc.status()) {
    if (status.type === 'reconnect') backoff.reset();
    if (status.type === 'disconnect' || status.type === 'reconnect' || status.type === 'error') {
      // The server's reason (e.g. `User Authentication Revoked`) names no credential.
      const reason = status.type === 'error' ? String(status.error) : undefined;
      log.warn({ nats_status: status.type, server: 'server' in status ? status.server : undefined, reason }, 'nats connection status');
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
  const sub = nc.subscribe(kvSubject(bucket, '>'), {
    callback: (err, msg) => {
      const key = err ? undefined : kvKeyOf(bucket, msg.subject);
      if (key === undefined) return;
      const op = msg.headers?.get('KV-Operation');
      onChange({ key, deleted: op === 'DEL' || op === 'PURGE', value: msg.data });
    },
  });
  return () => sub.unsubscribe();
}

/**
 * A write with an expected last sequence refused because its key moved on: a create that found an entry there, or a
 * compare-and-set another writer won (the broker's "wrong last sequence", or its "unknown" variant on newer servers).
 * Anything else (no answer in time, no permission) is not that.
 */
export function isWrongLastSequence(err: unknown): boolean {
  return (
    err instanceof JetStreamApiError &&
    (err.code === JetStreamApiCodes.StreamWrongLastSequence || err.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)
  );
}
