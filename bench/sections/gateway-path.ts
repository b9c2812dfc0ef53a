import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import express, { Router, type Express, type RequestHandler } from 'express';
import pino from 'pino';
import { mintToken } from '@fleet/api-keys';
import { DEFAULT_REGISTRIES } from '@fleet/contracts/host-access';
import { loadContract, readOperations } from '@fleet/contracts/operations';
// The routing A/B assembles the gateway's app from its own parts, as it was and as it is, in this process.
/* eslint-disable fleet/import-boundaries -- see above */
import { createApp, type GatewayDeps } from '../../apps/api/src/app';
import { authenticate } from '../../apps/api/src/auth/middleware';
import { PreAuthLimit } from '../../apps/api/src/auth/pre-auth-limit';
import { errorHandler, unknownRoute } from '../../apps/api/src/http/error-answer';
import { finiteQueryNumbers } from '../../apps/api/src/http/finite-numbers';
import { logAndAuditRequests } from '../../apps/api/src/http/request-log';
import { perKeyRateLimit } from '../../apps/api/src/http/rate-limit';
import { compileContractValidation } from '../../apps/api/src/http/validation';
import type { JobClient, JobRequest } from '../../apps/api/src/jobs/client';
import { docsAssetRoutes } from '../../apps/api/src/routes/docs';
import { mountNodeOperations } from '../../apps/api/src/routes/node/mount';
import { compareBySpecificity, expressPath } from '../../apps/api/src/routes/node/route-order';
import { uiRoutes } from '../../apps/api/src/routes/ui';
import { stubGatewayDeps } from '../../apps/api/src/test-app';
/* eslint-enable fleet/import-boundaries */
import { alternateCpu } from '../lib/ab';
import { round } from '../lib/stats';
import type { AbMeasurement } from './micro';

/** A one-host answer of the throughput phase's ping, as the gateway sends it. */
const PING_ANSWER = {
  job_id: '6f1c3f0e-7d3a-4c1e-9d55-0b3c2a1e4f10',
  results: [{ hostname: 'web-01', status: 'ok', changed: false, data: 'OK', duration_ms: 1 }],
};

/**
 * The JSON answer with express' default ETag (a SHA-1 of every body, for a 304 no operation of the
 * contract declares) and without it, as the gateway now answers (`app.set('etag', false)` in
 * apps/api/src/app.ts): two in-process apps answering the same body; CPU per request includes the
 * bench's own HTTP client, the same on both sides.
 */
export function measureEtag(iterations: number): Promise<AbMeasurement> {
  const name = 'JSON answer with and without an ETag + HTTP round trip, per request';
  return alternateOverHttp(name, iterations, [jsonApp(true), jsonApp(false)], '/ping');
}

/**
 * Two in-process apps behind one keep-alive client: warmed up side by side, then the same call to
 * each in alternating blocks; CPU per call includes the client's share, the same on both sides.
 */
async function alternateOverHttp(
  name: string,
  iterations: number,
  apps: [Express, Express],
  path: string,
  headers: Record<string, string> = {},
): Promise<AbMeasurement> {
  const [before, after] = await Promise.all(apps.map(listen));
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const call = (server: Server) => get(agent, server, path, headers);
    for (let i = 0; i < 200; i++) await Promise.all([call(before), call(after)]);
    const { beforeUs, afterUs } = await alternateCpu(iterations, [() => call(before), () => call(after)]);
    return { name, iterations, beforeUs: round(beforeUs, 1), afterUs: round(afterUs, 1) };
  } finally {
    agent.destroy();
    before.close();
    after.close();
  }
}

function jsonApp(etag: boolean): Express {
  const app = express();
  app.set('etag', etag);
  app.get('/ping', (_req, res) => {
    res.json(PING_ANSWER);
  });
  return app;
}

function get(agent: Agent, server: Server, path = '/ping', headers: Record<string, string> = {}): Promise<void> {
  const { port } = server.address() as AddressInfo;
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, agent, path, headers }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`answered ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end();
  });
}

/** pino as the gateway configures it (packages/runtime/src/logger.ts). */
const GATEWAY_LOGGER: pino.LoggerOptions = {
  name: 'fleet-gateway',
  level: 'info',
  base: { service: 'fleet-gateway', pid: process.pid },
  redact: { paths: ['authorization', 'secret'], censor: '[redacted]' },
};

/** The gateway's request line for one node call. */
const REQUEST_LINE = {
  caller: 'bench',
  role: 'admin',
  key_id: 'k',
  method: 'GET',
  path: '/node/web-01/container/docker/system/ping',
  target: 'web-01',
  job_id: PING_ANSWER.job_id,
  status: 200,
  duration_ms: 1.23,
};

/**
 * The gateway's info-level log lines per job: the request line and a `job dispatched` line, as it
 * was, and the request line alone, as it is (`job dispatched` is at debug: the request line carries
 * the same job_id and target). pino as the gateway configures it (packages/runtime/src/logger.ts),
 * writing to a file as deploy/lib redirects the gateway's output.
 */
export async function measureJobLogLines(iterations: number): Promise<AbMeasurement> {
  const dir = mkdtempSync('/tmp/flb-log-');
  const destination = pino.destination({ dest: join(dir, 'gateway.log'), sync: true });
  const log = pino(GATEWAY_LOGGER, destination);
  const job = { job_id: PING_ANSWER.job_id, target: 'web-01', operation: 'docker.system.ping', hosts: 1 };
  const requestLine = () => log.info(REQUEST_LINE, 'request');
  try {
    const { beforeUs, afterUs } = await alternateCpu(iterations, [
      () => {
        log.info(job, 'job dispatched');
        requestLine();
      },
      () => {
        log.debug(job, 'job dispatched');
        requestLine();
      },
    ]);
    return { name: 'gateway log lines at info, per job', iterations, beforeUs: round(beforeUs, 2), afterUs: round(afterUs, 2) };
  } finally {
    destination.flushSync();
    destination.end();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The gateway's request line written to a file (as deploy/lib redirects its output) through pino's
 * default stdout stream — asynchronous: every line an fs.write on a libuv worker thread, handed over
 * and called back — and through a synchronous destination on the event loop's own thread, as the
 * gateway now writes (apps/api/src/main.ts). One line per event-loop turn, as one per call; the
 * process's CPU, worker threads included.
 */
export async function measureLogDestination(iterations: number): Promise<AbMeasurement> {
  const dir = mkdtempSync('/tmp/flb-logdest-');
  const destinations = [false, true].map((sync) => pino.destination({ dest: join(dir, `${sync ? 'sync' : 'async'}.log`), sync }));
  const logs = destinations.map((destination) => pino(GATEWAY_LOGGER, destination));
  const requestLine = (log: pino.Logger) => {
    log.info(REQUEST_LINE, 'request');
    return new Promise((resolve) => setImmediate(resolve));
  };
  try {
    const { beforeUs, afterUs } = await alternateCpu(iterations, [() => requestLine(logs[0]), () => requestLine(logs[1])]);
    return {
      name: 'request log line, asynchronous stdout stream vs synchronous destination, per call',
      iterations,
      beforeUs: round(beforeUs, 1),
      afterUs: round(afterUs, 1),
    };
  } finally {
    for (const destination of destinations) {
      destination.flushSync();
      destination.end();
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

interface AgentRecordLike {
  hostname: string;
  labels: Record<string, string>;
  agent_version: string;
  engine: { healthy: boolean };
  started_at: string;
}

/**
 * Resolving a hostname target reads that agent's view from the roster: built on every call, as it
 * was (a copy of the heartbeat record and an ISO timestamp), or built once per change and kept, as
 * it is (`AgentRoster.view` in apps/api/src/agents/roster.ts). The same construction on both sides.
 */
export async function measureAgentView(iterations: number): Promise<AbMeasurement> {
  const record: AgentRecordLike = {
    hostname: 'web-01',
    labels: { role: 'web', zone: 'eu.west' },
    agent_version: '0.1.0',
    engine: { healthy: true },
    started_at: new Date().toISOString(),
  };
  const seen = { record, seenAt: Date.now() };
  const enrollment = { labels: { role: 'web' } };
  const build = () => ({
    ...seen.record,
    labels: enrollment.labels,
    requested_labels: seen.record.labels,
    enrollment: 'accepted',
    live: true,
    drained: false,
    last_seen_at: new Date(seen.seenAt).toISOString(),
  });
  const views = new Map<string, ReturnType<typeof build>>();
  let sink = 0;
  const { beforeUs, afterUs } = await alternateCpu(iterations, [
    () => {
      sink += build().drained ? 1 : 0;
    },
    () => {
      let view = views.get('web-01');
      if (!view) {
        view = build();
        views.set('web-01', view);
      }
      sink += view.drained ? 1 : 0;
    },
  ]);
  if (sink < 0) throw new Error('unreachable');
  return { name: 'agent view for a hostname target, per call', iterations, beforeUs: round(beforeUs, 3), afterUs: round(afterUs, 3) };
}

const ROUTING_SECRET = 'routing-bench-secret-0123456789abcdef';

/** The gateway's parts a node call touches before its job; the job client answers at once, with one ok row. */
function routingDeps(): GatewayDeps {
  const jobs = {
    start: async (request: JobRequest) => ({
      record: { job_id: PING_ANSWER.job_id, hosts: ['web-01'], target: request.target },
      rows: Promise.resolve(PING_ANSWER.results),
      cancel: () => undefined,
    }),
  } as unknown as JobClient;
  return stubGatewayDeps({ jwtSecret: ROUTING_SECRET, jobs, engineProxy: {} as never });
}

/**
 * The app as createApp assembled it before (apps/api/src/app.ts): the public routers, the Engine API
 * proxy's router (here an empty one on its mount) and the contract's validation router each let a
 * node call through — leaving a router takes a setImmediate — and the node routes looked the call's
 * route up a second time.
 */
/** The validation router the app mounted then: each operation's validator, leaving the router once it passes. */
function validationRouterAsBefore(): Router {
  const validation = compileContractValidation();
  const router = Router();
  const leaveRouter: RequestHandler = (_req, _res, next) => next('router');
  for (const op of [...readOperations(loadContract())].sort((a, b) => compareBySpecificity(a.path, b.path))) {
    router[op.method](expressPath(op.path), validation.forOperation(op), leaveRouter);
  }
  router.use(validation.methodNotAllowed());
  return router;
}

function routedAsBefore(deps: GatewayDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(logAndAuditRequests(deps.log, deps.audit));
  app.use(express.json({ limit: deps.bodyLimit }));
  // The health and docs routers a request passed through then (their operations are mounted from the contract now).
  app.use(Router().get(['/health', '/health/ready'], (_req, res) => res.json({ status: 'ok' })));
  app.use(docsAssetRoutes());
  app.use(uiRoutes());
  app.use(authenticate(deps.jwtSecret, () => false, undefined, new PreAuthLimit(0)));
  app.use(perKeyRateLimit(deps.rateLimitPerMinute));
  const proxy = Router();
  proxy.use('/node/:hostname/docker', (_req, res) => res.status(501).end());
  app.use(proxy);
  app.use(validationRouterAsBefore());
  app.use(finiteQueryNumbers);
  const nodeRoutes = Router();
  mountNodeOperations(nodeRoutes, deps.jobs, deps.transfers, () => [], { registries: DEFAULT_REGISTRIES });
  app.use(nodeRoutes);
  app.use(unknownRoute);
  app.use(errorHandler(deps.log));
  return app;
}

/**
 * A node call (`GET /node/web-01/container/docker/system/ping`) through the gateway's express app as
 * it was (routedAsBefore) and as createApp builds it now: the public and proxy routers entered only by
 * their own paths, and each node operation validated on its own route. Authentication, the request
 * log and the answer are the same on both sides; the job client answers at once. CPU per call
 * includes the bench's own HTTP client, the same on both sides.
 */
export function measureNodeCallRouting(iterations: number): Promise<AbMeasurement> {
  const deps = routingDeps();
  const key = mintToken({ secret: ROUTING_SECRET, role: 'admin', ttlSeconds: 3600 });
  const name = 'node call through the express app (routing, validation, authentication) + HTTP round trip, per call';
  return alternateOverHttp(name, iterations, [routedAsBefore(deps), createApp(deps)], '/node/web-01/container/docker/system/ping', {
    authorization: `Bearer ${key}`,
  });
}

function listen(app: Express): Promise<Server> {
  return new Promise((resolve) => {
    const server = app.listen(0, '127.0.0.1', () => resolve(server));
  });
}
