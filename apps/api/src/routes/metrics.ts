import { Router } from 'express';
import type { Registry } from 'prom-client';

/** Prometheus exposition at GET /metrics; public, like /health (bind the gateway or filter the route accordingly). */
export function metricsRoutes(collectors: Registry): Router {
  const router = Router();
  router.get('/metrics', async (_req, res) => {
    res.type(collectors.contentType).send(await collectors.metrics());
  });
  return router;
}
