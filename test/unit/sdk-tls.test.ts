/**
 * The SDK's Node transport and fetch with a CA of the fleet's own (`nodeHttp({ ca })`, README "TLS"): a server
 * with a certificate of that CA is reached over both; one with another CA's certificate is refused by both.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createPki } from '@fleet/deploy';
import { nodeHttp } from '@fleet/sdk';

let dir: string;
let server: Server;
let url: string;
let fleetCa: Buffer;
let foreignCa: Buffer;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'fleet-sdk-tls-'));
  const pki = await createPki(path.join(dir, 'fleet'), { gatewayHosts: ['127.0.0.1'] });
  const foreign = await createPki(path.join(dir, 'foreign'), {});
  fleetCa = readFileSync(pki.ca);
  foreignCa = readFileSync(foreign.ca);
  server = createServer({ cert: readFileSync(pki.gateway!.cert), key: readFileSync(pki.gateway!.key) }, (req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ path: req.url }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

it('reaches a server whose certificate is of the CA, over the transport and over fetch', async () => {
  const http = nodeHttp({ ca: fleetCa });
  expect(await http.transport({ method: 'GET', url: `${url}/agent`, headers: {} })).toMatchObject({
    status: 200,
    text: '{"path":"/agent"}',
  });
  const res = await http.fetch(`${url}/job`);
  expect(await res.json()).toEqual({ path: '/job' });
});

it('refuses a server whose certificate is of another CA, over both', async () => {
  const http = nodeHttp({ ca: foreignCa });
  const code = (err: unknown) => ((err as Error).cause as NodeJS.ErrnoException | undefined)?.code;
  const viaTransport = await http.transport({ method: 'GET', url: `${url}/agent`, headers: {} }).catch((err: unknown) => err);
  const viaFetch = await http.fetch(`${url}/agent`).catch((err: unknown) => err);
  for (const refusal of [viaTransport, viaFetch]) {
    expect(refusal).toBeInstanceOf(TypeError);
    expect(code(refusal)).toMatch(/^(UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)$/);
  }
});
