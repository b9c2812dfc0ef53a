import { createPrivateKey, randomBytes, webcrypto } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import type * as X509 from '@peculiar/x509';
import { ensurePrivateDir, writeSecretFile } from './secret-files';

/**
 * The fleet's own certificate authority (README "Security model" → "TLS"): one ECDSA P-256 CA that signs the
 * NATS server, route, gateway and client certificates. Everything is made here, offline, with webcrypto.
 * The CA is made once and never replaced by a re-issue: every service trusts it, so re-issuing (rotating) the
 * leaf certificates needs no change anywhere but in the new files.
 */

let loaded: typeof X509 | undefined;

/**
 * @peculiar/x509, loaded on first use: it takes ~70 ms, which a CLI command that only reads the local fleet's
 * state (and so loads this package) should not pay. Its dependency injection needs the Reflect metadata API first.
 */
function x509Module(): typeof X509 {
  if (!loaded) {
    require('reflect-metadata');
    loaded = require('@peculiar/x509') as typeof X509;
    loaded.cryptoProvider.set(webcrypto as unknown as Crypto);
  }
  return loaded;
}

const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

/** A few minutes back, so a host whose clock is a little behind still accepts a fresh certificate. */
const CLOCK_SKEW_MS = 5 * 60_000;

const DAY_MS = 86_400_000;

const DEFAULT_CERT_VALIDITY_DAYS = 397;
const DEFAULT_CA_VALIDITY_DAYS = 3650;

export interface PkiOptions {
  /** DNS names and IPs clients dial NATS by: the server certificate's SANs. */
  natsHosts?: string[];
  /** DNS names and IPs of the cluster nodes: the route certificate (client and server auth, for mutual TLS). */
  routeHosts?: string[];
  /** DNS names and IPs clients reach the gateway by: its HTTPS certificate's SANs. */
  gatewayHosts?: string[];
  /** A client certificate (clientAuth) per name, e.g. for a reverse proxy that re-encrypts. */
  clients?: string[];
  validityDays?: number;
  caValidityDays?: number;
  /** Replace leaf certificates that exist already (rotation); the CA is kept. */
  force?: boolean;
}

export interface CertificateFiles {
  cert: string;
  key: string;
}

export interface PkiFiles {
  dir: string;
  /** The CA certificate every client and server trusts (ca.pem, also what DOCKER_CERT_PATH needs). */
  ca: string;
  caKey: string;
  nats?: CertificateFiles;
  route?: CertificateFiles;
  gateway?: CertificateFiles;
  clients: Record<string, CertificateFiles>;
}

type Use = 'server' | 'route' | 'client';

const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

const EXTENDED_KEY_USAGES: Record<Use, string[]> = {
  server: [SERVER_AUTH],
  // A route dials and is dialled: with verify, each side checks the other's certificate.
  route: [SERVER_AUTH, CLIENT_AUTH],
  client: [CLIENT_AUTH],
};

/** The file names inside the PKI dir. */
export function pkiFilesOf(dir: string): { ca: string; caKey: string; leaf: (name: string) => CertificateFiles } {
  const root = path.resolve(dir);
  return {
    ca: path.join(root, 'ca.pem'),
    caKey: path.join(root, 'ca-key.pem'),
    leaf: (name) => ({ cert: path.join(root, `${name}.pem`), key: path.join(root, `${name}-key.pem`) }),
  };
}

/**
 * Makes the CA (when `dir` has none) and the certificates asked for. A certificate that exists already is
 * refused without `force`, so a second run never silently replaces what services use.
 */
export async function createPki(dir: string, opts: PkiOptions): Promise<PkiFiles> {
  const files = pkiFilesOf(dir);
  ensurePrivateDir(path.dirname(files.ca));
  const validity = opts.validityDays ?? DEFAULT_CERT_VALIDITY_DAYS;
  const ca = await loadOrCreateCa(files.ca, files.caKey, opts.caValidityDays ?? DEFAULT_CA_VALIDITY_DAYS);
  const issue = async (name: string, use: Use, hosts: string[]): Promise<CertificateFiles> => {
    const leaf = files.leaf(name);
    if (existsSync(leaf.cert) && !opts.force)
      throw new Error(`${leaf.cert} exists; \`fleet pki rotate\` (or --force) re-issues it from the same CA`);
    await issueCertificate(ca, leaf, { commonName: `fleet ${name}`, use, hosts, validityDays: validity });
    return leaf;
  };
  const result: PkiFiles = { dir: path.resolve(dir), ca: files.ca, caKey: files.caKey, clients: {} };
  if (opts.natsHosts?.length) result.nats = await issue('nats-server', 'server', opts.natsHosts);
  if (opts.routeHosts?.length) result.route = await issue('nats-route', 'route', opts.routeHosts);
  if (opts.gatewayHosts?.length) result.gateway = await issue('gateway', 'server', opts.gatewayHosts);
  for (const client of opts.clients ?? []) result.clients[client] = await issue(`client-${client}`, 'client', []);
  return result;
}

/** Re-issues the named certificates from the existing CA (which it refuses to make anew). */
export async function rotatePki(dir: string, opts: Omit<PkiOptions, 'force'>): Promise<PkiFiles> {
  const { ca } = pkiFilesOf(dir);
  if (!existsSync(ca)) throw new Error(`${ca} does not exist: \`fleet pki\` makes the CA first`);
  return createPki(dir, { ...opts, force: true });
}

interface Authority {
  cert: X509.X509Certificate;
  privateKey: CryptoKey;
}

async function loadOrCreateCa(certFile: string, keyFile: string, validityDays: number): Promise<Authority> {
  const x509 = x509Module();
  if (existsSync(certFile) && existsSync(keyFile)) {
    const cert = new x509.X509Certificate(readFileSync(certFile, 'utf8'));
    const der = createPrivateKey(readFileSync(keyFile)).export({ format: 'der', type: 'pkcs8' });
    const privateKey = await webcrypto.subtle.importKey('pkcs8', der, ALGORITHM, false, ['sign']);
    return { cert, privateKey };
  }
  const keys = await generateKeys();
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNumber(),
    name: `CN=fleet CA ${randomBytes(4).toString('hex')}`,
    notBefore: new Date(now - CLOCK_SKEW_MS),
    notAfter: new Date(now + validityDays * DAY_MS),
    keys,
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  writeSecretFile(keyFile, await privateKeyPem(keys.privateKey));
  writePublicFile(certFile, cert.toString('pem'));
  return { cert, privateKey: keys.privateKey };
}

interface LeafRequest {
  commonName: string;
  use: Use;
  hosts: string[];
  validityDays: number;
}

async function issueCertificate(ca: Authority, files: CertificateFiles, request: LeafRequest): Promise<void> {
  const x509 = x509Module();
  const keys = await generateKeys();
  const now = Date.now();
  const extensions: X509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension(EXTENDED_KEY_USAGES[request.use]),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    await x509.AuthorityKeyIdentifierExtension.create(ca.cert),
  ];
  if (request.hosts.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(request.hosts.map(subjectAltName)));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject: `CN=${request.commonName}`,
    issuer: ca.cert.subject,
    notBefore: new Date(now - CLOCK_SKEW_MS),
    notAfter: new Date(now + request.validityDays * DAY_MS),
    publicKey: keys.publicKey,
    signingKey: ca.privateKey,
    signingAlgorithm: ALGORITHM,
    extensions,
  });
  // Key first, each file replaced whole: a server re-reading them (reload) never sees half a file.
  replaceFile(files.key, await privateKeyPem(keys.privateKey), 0o600);
  replaceFile(files.cert, cert.toString('pem'), 0o644);
}

function subjectAltName(host: string): X509.JsonGeneralName {
  return isIP(host) ? { type: 'ip', value: host } : { type: 'dns', value: host };
}

/** Positive, 16 random bytes: unique per certificate as RFC 5280 asks. */
function serialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] &= 0x7f;
  return bytes.toString('hex');
}

async function generateKeys(): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify'])) as CryptoKeyPair;
}

async function privateKeyPem(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key));
  return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }).export({ format: 'pem', type: 'pkcs8' }).toString();
}

function writePublicFile(file: string, content: string): void {
  replaceFile(file, content, 0o644);
}

/** Written beside and renamed over: a reader sees the old file or the new one, never a part. */
function replaceFile(file: string, content: string, mode: number): void {
  const temporary = `${file}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(temporary, content, { mode });
  renameSync(temporary, file);
}
