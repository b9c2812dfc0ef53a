import { createHash, timingSafeEqual } from 'node:crypto';
import type { Registry } from 'prom-client';
import { ApiError } from '../api-error';
import type { GatewayHandlers } from './operation-table';

/**
 * Prometheus exposition at GET /metrics (README "Docs, health and metrics"). The series name every
 * host, so by default nobody reads them: the scraper sends FLEET_METRICS_TOKEN as a bearer token,
 * or the operator opens them with FLEET_METRICS_PUBLIC=true. A static secret, not an API key,
 * because API keys expire and a scrape config should not need rotating every few weeks.
 */
export function metricsHandler(
  collectors: Registry | undefined,
  access: { token?: string; public: boolean },
): Pick<GatewayHandlers, 'metrics.gateway'> {
  const expected = access.token === undefined ? undefined : digest(access.token);
  // Without collectors the gateway has no /metrics: the path is unknown, as any other.
  if (!collectors) return { 'metrics.gateway': (_req, _res, next) => next() };
  return {
    'metrics.gateway': async (req, res) => {
      if (expected === undefined && !access.public) {
        const details =
          "this gateway's /metrics answers no one: set FLEET_METRICS_TOKEN (and send it as a bearer token) or FLEET_METRICS_PUBLIC=true";
        throw new ApiError('unauthenticated', details, { error: 'Unauthorized - metrics are closed' });
      }
      if (expected && !presents(req.get('authorization'), expected)) {
        const details = "this gateway's /metrics needs 'Authorization: Bearer <FLEET_METRICS_TOKEN>'";
        throw new ApiError('unauthenticated', details, { error: 'Unauthorized - metrics token required' });
      }
      res.type(collectors.contentType).send(await collectors.metrics());
    },
  };
}

/** Compared as fixed-length digests in constant time, so neither the length nor a prefix leaks. */
function presents(authorization: string | undefined, expected: Buffer): boolean {
  const given = /^Bearer\s+(\S+)$/i.exec(authorization ?? '')?.[1];
  return given !== undefined && timingSafeEqual(digest(given), expected);
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
