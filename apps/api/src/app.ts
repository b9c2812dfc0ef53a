import express, { Router, type Express } from 'express';
import type { Logger } from 'pino';
import { DEFAULT_MAX_KEY_TTL_SECONDS } from '@fleet/api-keys';
import type { AgentRoster } from './agents/roster';
import type { AuditLog } from './audit/log';
import { authenticate } from './auth/middleware';
import { PreAuthLimit } from './auth/pre-auth-limit';
import type { Revocations } from './auth/revocations';
import { errorHandler, unknownRoute } from './http/errors';
import { finiteQueryNumbers } from './http/finite-numbers';
import { logAndAuditRequests } from './http/observe';
import { perKeyRateLimit } from './http/rate-limit';
import { contractValidation } from './http/validation';
import type { JobClient } from './jobs/client';
import type { JobStore } from './jobs/store';
import type { GatewayMetrics } from './metrics';
import { agentRoutes } from './routes/agents';
import { auditRoutes } from './routes/audit';
import { docsRoutes } from './routes/docs';
import { healthRoutes, type ReadinessProbe } from './routes/health';
import { metricsRoutes } from './routes/metrics';
import { jobRoutes } from './routes/jobs';
import { mountNodeOperations } from './routes/node/mount';
import { targetRoutes } from './routes/targets';
import { tokenRoutes } from './routes/tokens';
import { uiRoutes } from './routes/ui';
import { whoamiRoutes } from './routes/whoami';

export interface GatewayDeps {
  jwtSecret: string;
  bodyLimit: string;
  jobs: JobClient;
  store: JobStore;
  roster: AgentRoster;
  audit: AuditLog;
  revocations: Revocations;
  rateLimitPerMinute: number;
  /** Keys living longer are refused (FLEET_MAX_KEY_TTL_SECONDS); default 90 days. */
  maxKeyTtlSeconds?: number;
  /** When set, GET /metrics needs it as a bearer token (FLEET_METRICS_TOKEN). */
  metricsToken?: string;
  /** Failed authentications per client address per minute; 0 or unset: no limit. */
  preAuthRateLimitPerMinute?: number;
  log: Logger;
  /** Served at GET /metrics; without it there is no /metrics route. */
  metrics?: GatewayMetrics;
  /** What GET /health/ready reports; without it the gateway never says it is ready. */
  readiness?: ReadinessProbe;
}

/** HTTP layer: parse, authenticate, validate against the contract, route. */
export function createApp(deps: GatewayDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  // No ETag: express would hash every JSON body (SHA-1) to offer a 304 the contract declares for no operation.
  app.set('etag', false);
  if (deps.metrics) app.use(deps.metrics.countRequests());
  app.use(logAndAuditRequests(deps.log, deps.audit));
  app.use(express.json({ limit: deps.bodyLimit }));
  // Public, before authentication and before the contract validator (which would 404 what it does not know).
  app.use(healthRoutes(deps.readiness));
  app.use(docsRoutes());
  app.use(uiRoutes());
  if (deps.metrics) app.use(metricsRoutes(deps.metrics.collectors, deps.metricsToken));
  const maxKeyTtlSeconds = deps.maxKeyTtlSeconds ?? DEFAULT_MAX_KEY_TTL_SECONDS;
  const preAuth = new PreAuthLimit(deps.preAuthRateLimitPerMinute ?? 0);
  app.use(authenticate(deps.jwtSecret, (jti) => deps.revocations.isRevoked(jti), maxKeyTtlSeconds, preAuth));
  app.use(perKeyRateLimit(deps.rateLimitPerMinute));
  app.use(contractValidation());
  app.use(finiteQueryNumbers);
  app.use(nodeRoutes(deps.jobs));
  app.use(jobRoutes(deps.jobs, deps.store, deps.roster));
  app.use(agentRoutes(deps.roster));
  app.use(auditRoutes(deps.audit, deps.roster));
  app.use(tokenRoutes(deps.revocations, { jwtSecret: deps.jwtSecret, maxKeyTtlSeconds }));
  app.use(whoamiRoutes());
  app.use(targetRoutes(deps.jobs));
  app.use(unknownRoute);
  app.use(errorHandler(deps.log));
  return app;
}

function nodeRoutes(jobs: JobClient): Router {
  const router = Router();
  mountNodeOperations(router, jobs);
  return router;
}
