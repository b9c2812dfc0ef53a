import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { findExecutable } from '@fleet/deploy';

/** A client certificate and key (PEM files) and the CA that signed them. */
export interface ClientCertificate {
  caFile: string;
  certFile: string;
  keyFile: string;
}

/**
 * A CA of an attacker's own and a client certificate it signed for `name`: the fleet never issued either, so
 * a broker that verifies clients against the fleet's CA must refuse it at the handshake.
 */
export function foreignClientCertificate(dir: string, name: string): ClientCertificate {
  mkdirSync(dir, { recursive: true });
  const files = { caFile: join(dir, 'ca.pem'), certFile: join(dir, `${name}.pem`), keyFile: join(dir, `${name}.key`) };
  const caKey = join(dir, 'ca.key');
  const request = join(dir, `${name}.csr`);
  openssl('req', '-x509', ...NEW_P256_KEY, '-keyout', caKey, '-out', files.caFile, '-days', '1', '-subj', '/CN=foreign-ca');
  openssl('req', ...NEW_P256_KEY, '-keyout', files.keyFile, '-out', request, '-subj', `/CN=${name}`);
  openssl('x509', '-req', '-in', request, '-CA', files.caFile, '-CAkey', caKey, '-CAcreateserial', '-out', files.certFile, '-days', '1');
  return files;
}

/** `openssl req` makes a new, unencrypted P-256 key, the kind the fleet's own certificates use. */
const NEW_P256_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

function openssl(...args: string[]): void {
  execFileSync(findExecutable('openssl'), args, { stdio: ['ignore', 'ignore', 'pipe'] });
}
