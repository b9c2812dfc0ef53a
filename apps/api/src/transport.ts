import { unwatchFile, watchFile } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer as createHttpServer, type RequestListener, type Server } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { createSecureContext } from 'node:tls';
import type { Logger } from '@fleet/runtime/logger';
import type { GatewayConfig } from './config';

/** How often the certificate files are checked for a new version (a rotation replaces them). */
const CERTIFICATE_POLL_MS = 1_000;

export interface GatewayServer {
  server: Server;
  scheme: 'http' | 'https';
  /** Stops watching the certificate files. */
  stopReloading(): void;
}

/**
 * The gateway's listener: HTTPS with the configured certificate, or plain HTTP where the configuration allowed
 * it (loopback only, README "TLS"). A replaced certificate or key file is loaded without a restart, as is one
 * after SIGHUP: new connections get it, open ones keep the session they have.
 */
export async function createGatewayServer(app: RequestListener, tls: GatewayConfig['tls'], log: Logger): Promise<GatewayServer> {
  if (!tls) return { server: createHttpServer(app), scheme: 'http', stopReloading: () => undefined };
  // Half-open as node's plain HTTP server is: an Engine API hijack whose client closed its sending side (no stdin;
  // over TLS, a close_notify) still gets the container's output.
  const server = createHttpsServer({ ...(await readKeyPair(tls)), allowHalfOpen: true }, app);
  const reload = () => void reloadCertificate(server, tls, log);
  watchFile(tls.certFile, { interval: CERTIFICATE_POLL_MS }, reload);
  watchFile(tls.keyFile, { interval: CERTIFICATE_POLL_MS }, reload);
  process.on('SIGHUP', reload);
  return {
    server,
    scheme: 'https',
    stopReloading() {
      unwatchFile(tls.certFile, reload);
      unwatchFile(tls.keyFile, reload);
      process.off('SIGHUP', reload);
    },
  };
}

async function readKeyPair(tls: NonNullable<GatewayConfig['tls']>): Promise<{ cert: Buffer; key: Buffer }> {
  const [cert, key] = await Promise.all([readFile(tls.certFile), readFile(tls.keyFile)]);
  return { cert, key };
}

/**
 * A pair that does not load (a key that is not the certificate's, e.g. between the two files of a rotation)
 * leaves the certificate in use as it is: the next change, or SIGHUP, tries again.
 */
async function reloadCertificate(server: HttpsServer, tls: NonNullable<GatewayConfig['tls']>, log: Logger): Promise<void> {
  try {
    const pair = await readKeyPair(tls);
    createSecureContext(pair);
    server.setSecureContext(pair);
    log.info({ cert_file: tls.certFile }, 'TLS certificate reloaded');
  } catch (err) {
    log.warn({ cert_file: tls.certFile, reason: (err as Error).message }, 'TLS certificate not reloaded: the previous one stays in use');
  }
}
