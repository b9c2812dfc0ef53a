/**
 * `fleet pki` (deploy/lib/pki.ts): each certificate carries the SANs and extended key usages its use needs, is
 * signed by the CA (checked with node:crypto, not the library that made it), and its private key is mode 600
 * in a directory of mode 700.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createPki, rotatePki } from '@fleet/deploy';

const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

let root: string;
beforeAll(() => {
  root = mkdtempSync(path.join(tmpdir(), 'fleet-pki-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const certOf = (file: string) => new X509Certificate(readFileSync(file));
const modeOf = (file: string) => statSync(file).mode & 0o777;

describe('createPki', () => {
  let dir: string;
  let files: Awaited<ReturnType<typeof createPki>>;
  beforeAll(async () => {
    dir = path.join(root, 'pki');
    files = await createPki(dir, {
      natsHosts: ['nats-1.example', '198.18.0.11'],
      routeHosts: ['nats-1.example', 'nats-2.example'],
      gatewayHosts: ['fleet.example', '127.0.0.1', '::1'],
      clients: ['proxy'],
      validityDays: 30,
    });
  });

  it('makes a self-signed P-256 CA', () => {
    const ca = certOf(files.ca);
    expect(ca.ca).toBe(true);
    expect(ca.verify(ca.publicKey)).toBe(true);
    expect(ca.publicKey.asymmetricKeyDetails).toEqual({ namedCurve: 'prime256v1' });
  });

  it('gives the NATS server certificate the DNS names and IPs asked for, for server auth only', () => {
    const cert = certOf(files.nats!.cert);
    expect(cert.subjectAltName).toBe('DNS:nats-1.example, IP Address:198.18.0.11');
    expect(cert.keyUsage).toEqual([SERVER_AUTH]);
    expect(cert.ca).toBe(false);
    expect(cert.checkHost('nats-1.example')).toBe('nats-1.example');
    expect(cert.checkIP('198.18.0.11')).toBe('198.18.0.11');
    expect(cert.checkHost('nats-2.example')).toBeUndefined();
  });

  it('gives the route certificate both client and server auth, for mutually authenticated routes', () => {
    const cert = certOf(files.route!.cert);
    expect(cert.keyUsage?.sort()).toEqual([SERVER_AUTH, CLIENT_AUTH].sort());
    expect(cert.subjectAltName).toBe('DNS:nats-1.example, DNS:nats-2.example');
  });

  it('gives the gateway certificate its names and both IPv4 and IPv6 addresses', () => {
    const cert = certOf(files.gateway!.cert);
    expect(cert.checkHost('fleet.example')).toBe('fleet.example');
    expect(cert.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(cert.checkIP('::1')).toBe('::1');
    expect(cert.keyUsage).toEqual([SERVER_AUTH]);
  });

  it('makes a client certificate for client auth only', () => {
    expect(certOf(files.clients.proxy.cert).keyUsage).toEqual([CLIENT_AUTH]);
  });

  it('signs every certificate with the CA, and each key matches its certificate', () => {
    const ca = certOf(files.ca);
    for (const leaf of [files.nats!, files.route!, files.gateway!, files.clients.proxy]) {
      const cert = certOf(leaf.cert);
      expect(cert.checkIssued(ca)).toBe(true);
      expect(cert.verify(ca.publicKey)).toBe(true);
      expect(cert.checkPrivateKey(createPrivateKey(readFileSync(leaf.key)))).toBe(true);
    }
  });

  it('makes certificates valid for the days asked for', () => {
    const validTo = Date.parse(certOf(files.gateway!.cert).validTo);
    expect(validTo).toBeGreaterThan(Date.now() + 29 * 86_400_000);
    expect(validTo).toBeLessThan(Date.now() + 31 * 86_400_000);
  });

  it('keeps every private key mode 600 in a directory of mode 700', () => {
    expect(modeOf(dir)).toBe(0o700);
    for (const key of [files.caKey, files.nats!.key, files.route!.key, files.gateway!.key, files.clients.proxy.key])
      expect(modeOf(key)).toBe(0o600);
  });

  it('refuses to replace an existing certificate without force', async () => {
    await expect(createPki(dir, { gatewayHosts: ['fleet.example'] })).rejects.toThrow(/gateway\.pem exists; `fleet pki rotate`/);
  });

  it('rotates: new leaf certificates from the same CA, which stays as it was', async () => {
    const caBefore = readFileSync(files.ca, 'utf8');
    const before = certOf(files.gateway!.cert);
    const rotated = await rotatePki(dir, { gatewayHosts: ['fleet.example'] });
    const after = certOf(rotated.gateway!.cert);
    expect(readFileSync(files.ca, 'utf8')).toBe(caBefore);
    expect(after.serialNumber).not.toBe(before.serialNumber);
    expect(after.checkIssued(certOf(files.ca))).toBe(true);
    expect(after.checkPrivateKey(createPrivateKey(readFileSync(rotated.gateway!.key)))).toBe(true);
    expect(modeOf(rotated.gateway!.key)).toBe(0o600);
  });

  it('refuses to rotate where there is no CA', async () => {
    await expect(rotatePki(path.join(root, 'empty'), { gatewayHosts: ['x'] })).rejects.toThrow(/ca\.pem does not exist/);
  });
});
