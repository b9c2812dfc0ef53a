import express, { Router, type Express } from 'express';
import * as OpenApiValidator from 'express-openapi-validator';
import type { Logger } from 'pino';
import { CONTRACT_PATH } from '@fleet/contracts/operations';
import type { AgentRegistry } from './agents/registry';
import { authenticate, callerOf } from './auth/middleware';
import { errorHandler, unknownRoute } from './http/errors';
import type { JobClient } from './jobs/client';
import type { JobStore } from './jobs/store';
import { agentRoutes } from './routes/agents';
import { healthRoutes } from './routes/health';
import { jobRoutes } from './routes/jobs';
import { mountContainerRoutes } from './routes/node/containers';
import { mountImageRoutes } from './routes/node/images';
import { mountSystemRoutes } from './routes/node/system';

export interface GatewayDeps {
  jwtSecret: string;
  bodyLimit: string;
  jobs: JobClient;
  store: JobStore;
  registry: AgentRegistry;
  log: Logger;
}

/** HTTP layer: parse, authenticate, validate against the contract, route. */
export function createApp(deps: GatewayDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(express.json({ limit: deps.bodyLimit }));
  app.use(requestLog(deps.log));
  app.use(healthRoutes());
  app.use(authenticate(deps.jwtSecret));
  app.use(
    OpenApiValidator.middleware({
      apiSpec: CONTRACT_PATH,
      // Query and path parameters are always coerced from strings; bodies must arrive with the right JSON types.
      validateRequests: { allowUnknownQueryParameters: false, coerceTypes: false },
      validateResponses: false,
      validateSecurity: false,
    }),
  );
  app.use(nodeRoutes(deps.jobs));
  app.use(jobRoutes(deps.jobs, deps.store));
  app.use(agentRoutes(deps.registry));
  app.use(unknownRoute);
  app.use(errorHandler(deps.log));
  return app;
}

function nodeRoutes(jobs: JobClient): Router {
  const router = Router();
  mountImageRoutes(router, jobs);
  mountSystemRoutes(router, jobs);
  mountContainerRoutes(router, jobs);
  return router;
}

/** One line per request with the caller, target and job, never the key itself. */
function requestLog(log: Logger): express.RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const caller = res.locals.caller ? callerOf(res).sub : undefined;
      log.info(
        {
          method: req.method,
          path: req.path,
          status: res.statusCode,
          caller,
          target: req.params?.target ?? targetOf(req.path),
          job_id: res.locals.jobId,
          duration_ms: Number(process.hrtime.bigint() - started) / 1e6,
        },
        'request',
      );
    });
    next();
  };
}

function targetOf(path: string): string | undefined {
  const match = /^\/node\/([^/]+)\//.exec(path);
  return match ? decodeURIComponent(match[1]) : undefined;
}
