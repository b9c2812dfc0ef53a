import { X509Certificate } from 'node:crypto';
import { connect as connectTcp, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';

/**
 * What a TLS server presents, seen from the wire: the serial number of the certificate a fresh connection to
 * an HTTPS `port` gets (verified against `ca`).
 */
export function httpsCertificateSerial(port: number, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connectTls({ host: '127.0.0.1', port, ca, servername: 'localhost' }, () => {
      resolve(socket.getPeerX509Certificate()?.serialNumber ?? '');
      socket.destroy();
    });
    socket.once('error', reject);
  });
}

/**
 * The same for a NATS port: nats-server first sends its INFO line in clear, then the client starts TLS on the
 * same socket.
 */
export async function natsCertificateSerial(port: number, ca: string): Promise<string> {
  const plain = connectTcp({ host: '127.0.0.1', port });
  await firstLine(plain);
  return new Promise((resolve, reject) => {
    const socket = connectTls({ socket: plain, ca, servername: 'localhost' }, () => {
      resolve(socket.getPeerX509Certificate()?.serialNumber ?? '');
      socket.destroy();
    });
    socket.once('error', reject);
  });
}

/** The first line a server sends (nats-server's INFO), as text. */
export function firstLine(socket: Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    let received = '';
    const onData = (chunk: Buffer) => {
      received += chunk.toString('latin1');
      const end = received.indexOf('\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      socket.pause();
      resolve(received.slice(0, end));
    };
    socket.on('data', onData);
    socket.once('error', reject);
  });
}

/** The serial number of a certificate file, as node:tls reports a peer's. */
export function serialOf(pem: string): string {
  return new X509Certificate(pem).serialNumber;
}
