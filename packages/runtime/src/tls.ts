import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { Gauge, type Registry } from 'prom-client';

/** A certificate file a process uses, and what for (`https`, `nats-ca`): the metric's `use` label. */
export interface UsedCertificate {
  use: string;
  file: string;
}

const DAY_MS = 86_400_000;

/**
 * `<prefix>tls_certificate_expiry_timestamp_seconds{use}` for every certificate the process uses, read from
 * its file at each scrape (so a rotated file shows at once), and a warning in the log from `warningDays`
 * before a certificate expires, repeated daily until it is replaced (README "TLS").
 */
export function trackCertificateExpiry(
  collectors: Registry,
  prefix: string,
  log: Logger,
  opts: { certificates: UsedCertificate[]; warningDays: number },
): () => void {
  new Gauge({
    name: `${prefix}tls_certificate_expiry_timestamp_seconds`,
    help: 'When each certificate this process uses expires (Unix seconds), by use',
    labelNames: ['use'],
    registers: [collectors],
    collect() {
      this.reset();
      for (const certificate of opts.certificates) {
        const expiry = expiryOf(certificate.file);
        if (expiry !== undefined) this.set({ use: certificate.use }, Math.floor(expiry / 1000));
      }
    },
  });
  const check = () => warnOfExpiry(log, opts.certificates, opts.warningDays);
  check();
  const daily = setInterval(check, DAY_MS);
  daily.unref();
  return () => clearInterval(daily);
}

function warnOfExpiry(log: Logger, certificates: UsedCertificate[], warningDays: number): void {
  for (const { use, file } of certificates) {
    const expiry = expiryOf(file);
    if (expiry === undefined) {
      log.warn({ use, file }, 'certificate cannot be read: its expiry is unknown');
      continue;
    }
    const daysLeft = Math.floor((expiry - Date.now()) / DAY_MS);
    if (daysLeft < warningDays) {
      log.warn(
        { use, file, expires_at: new Date(expiry).toISOString(), days_left: daysLeft },
        'certificate expires soon: rotate it (fleet pki rotate)',
      );
    }
  }
}

/** Milliseconds since the epoch when the file's first certificate expires; undefined when it cannot be read. */
export function expiryOf(file: string): number | undefined {
  try {
    return Date.parse(new X509Certificate(readFileSync(file)).validTo);
  } catch {
    return undefined;
  }
}
