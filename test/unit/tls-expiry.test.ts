/**
 * Certificate expiry (README "TLS"): the gauge shows when each certificate a process uses expires, read from its
 * file (so a rotation shows at the next scrape), and the log warns from the set number of days before, daily.
 */
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { Registry } from 'prom-client';
import { createPki, rotatePki } from '@fleet/deploy';
import { trackCertificateExpiry } from '@fleet/runtime/tls';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'fleet-expiry-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function capturingLog(): { log: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const log = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) });
  return { log, lines };
}

const expiryOf = (file: string) => Math.floor(Date.parse(new X509Certificate(readFileSync(file)).validTo) / 1000);

it("exports each certificate's expiry by use, and the new one after a rotation", async () => {
  const pki = await createPki(path.join(dir, 'gauge'), { gatewayHosts: ['127.0.0.1'], validityDays: 100 });
  const collectors = new Registry();
  const stop = trackCertificateExpiry(collectors, 'fleet_', capturingLog().log, {
    certificates: [
      { use: 'https', file: pki.gateway!.cert },
      { use: 'nats-ca', file: pki.ca },
    ],
    warningDays: 30,
  });
  try {
    const scrape = async () => (await collectors.getSingleMetric('fleet_tls_certificate_expiry_timestamp_seconds')!.get()).values;
    expect(await scrape()).toEqual([
      { labels: { use: 'https' }, value: expiryOf(pki.gateway!.cert) },
      { labels: { use: 'nats-ca' }, value: expiryOf(pki.ca) },
    ]);
    await rotatePki(path.join(dir, 'gauge'), { gatewayHosts: ['127.0.0.1'], validityDays: 200 });
    const https = (await scrape()).find((sample) => sample.labels.use === 'https');
    expect(https?.value).toBe(expiryOf(pki.gateway!.cert));
    expect(https!.value).toBeGreaterThan(Date.now() / 1000 + 199 * 86_400);
  } finally {
    stop();
  }
});

it('warns from the set number of days before expiry, then once a day; not before', async () => {
  jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate'] });
  try {
    const soon = await createPki(path.join(dir, 'soon'), { gatewayHosts: ['127.0.0.1'], validityDays: 10 });
    const later = await createPki(path.join(dir, 'later'), { gatewayHosts: ['127.0.0.1'], validityDays: 100 });
    const { log, lines } = capturingLog();
    const stop = trackCertificateExpiry(new Registry(), 'fleet_', log, {
      certificates: [
        { use: 'https', file: soon.gateway!.cert },
        { use: 'nats-ca', file: later.gateway!.cert },
      ],
      warningDays: 30,
    });
    const warnings = () => lines.filter((line) => line.msg === 'certificate expires soon: rotate it (fleet pki rotate)');
    expect(warnings()).toEqual([expect.objectContaining({ level: 40, use: 'https', file: soon.gateway!.cert, days_left: 9 })]);
    jest.advanceTimersByTime(86_400_000);
    expect(warnings()).toHaveLength(2);
    stop();
    jest.advanceTimersByTime(86_400_000);
    expect(warnings()).toHaveLength(2);
  } finally {
    jest.useRealTimers();
  }
});

it('warns when a certificate file cannot be read, and exports nothing for it', async () => {
  const { log, lines } = capturingLog();
  const collectors = new Registry();
  const stop = trackCertificateExpiry(collectors, 'fleet_', log, {
    certificates: [{ use: 'https', file: path.join(dir, 'missing.pem') }],
    warningDays: 30,
  });
  stop();
  expect(lines).toEqual([expect.objectContaining({ level: 40, use: 'https', msg: 'certificate cannot be read: its expiry is unknown' })]);
  expect((await collectors.getSingleMetric('fleet_tls_certificate_expiry_timestamp_seconds')!.get()).values).toEqual([]);
});
