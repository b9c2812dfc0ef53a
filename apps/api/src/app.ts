import { ServerResponse, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import express, { Router, type Express, type RequestHandler } from 'express';
import type { Logger } from 'pino';
import { DEFAULT_MAX_KEY_TTL_SECONDS } from '@fleet/api-keys';
import type { AgentIdentities } from './agents/identity';
import { DEFAULT_REGISTRIES, type AccessPolicy } from '@fleet/contracts/host-access';
import type { AgentRoster } from './agents/roster';
import type { AuditLog } from './audit/log';
import { authenticate } from './auth/middleware';
import { PreAuthLimit } from './auth/pre-auth-limit';
import type { MintedKeys } from './auth/minted-keys';
import type { Revocations } from './auth/revocations';
import { errorHandler, unknownRoute } from './http/errors';
import { finiteQueryNumbers } from './http/finite-numbers';
import { refuseChangesWhileAuditFull } from './http/audit-gate';
import { logAndAuditRequests } from './http/observe';
import { perKeyRateLimit } from './http/rate-limit';
import { compileContractValidation, type ContractValidation } from './http/validation';
import type { JobClient } from './jobs/client';
import type { ResultFeed } from './jobs/feed';
import type { JobStore } from './jobs/store';
import type { GatewayMetrics } from './metrics';
import { agentJoinRoute, agentRoutes } from './routes/agents';
import { auditRoutes } from './routes/audit';
import { docsRoutes } from './routes/docs';
import { engineProxyRoutes, isEngineProxyPath, markUpgrade, sendProxyError, type EngineProxyDeps } from './routes/engine-proxy';
import { feedRoutes } from './routes/feeds';
import { healthRoutes, type ReadinessProbe } from './routes/health';
import { metricsRoutes } from './routes/metrics';
import { jobRoutes } from './routes/jobs';
import { mountNodeOperations } from './routes/node/mount';
import { rolloutControlRoutes } from './routes/rollout-controls';
import { targetRoutes } from './routes/targets';
import { tokenRoutes } from './routes/tokens';
import type { Transfers } from './routes/node/transfers';
import { uiRoutes } from './routes/ui';
import { whoamiRoutes } from './routes/whoami';
import { ApiError } from './errors';

export interface GatewayDeps {
  jwtSecret: string;
  bodyLimit: string;
  jobs: JobClient;
  /** Operations whose body or answer is a file: the upload store and the download relay. */
  transfers: Transfers;
  store: JobStore;
  /** Rows and job records as they land, for the live feeds (GET /feed/…). */
  feed: ResultFeed;
  roster: AgentRoster;
  /** Join tokens, joins and removals of agents' NATS identities. */
  identities: AgentIdentities;
  audit: AuditLog;
  revocations: Revocations;
  /** The keys this gateway minted (GET /token). */
  mintedKeys: MintedKeys;
  rateLimitPerMinute: number;
  /** Keys living longer are refused (FLEET_MAX_KEY_TTL_SECONDS); default 90 days. */
  maxKeyTtlSeconds?: number;
  /** When set, GET /metrics needs it as a bearer token (FLEET_METRICS_TOKEN). */
  metricsToken?: string;
  /** GET /metrics without a credential (FLEET_METRICS_PUBLIC=true); without it or a token, /metrics is refused. */
  metricsPublic?: boolean;
  /** Failed authentications per client address per minute; 0 or unset: no limit. */
  preAuthRateLimitPerMinute?: number;
  log: Logger;
  /** Served at GET /metrics; without it there is no /metrics route. */
  metrics?: GatewayMetrics;
  /** What GET /health/ready reports; without it the gateway never says it is ready. */
  readiness?: ReadinessProbe;
  /** The Engine API proxy (`/node/:hostname/docker/*`); without it the path is unknown. */
  engineProxy?: Omit<EngineProxyDeps, 'bodyLimit' | 'accessPolicy'>;
  /** What reaches a host beyond the Engine models' own rules (FLEET_REGISTRY_ALLOWLIST); default Docker Hub only. */
  accessPolicy?: AccessPolicy;
}

/** HTTP layer: parse, authenticate, validate against the contract, route. */
export function createApp(deps: GatewayDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  // No ETag: express would hash every JSON body (SHA-1) to offer a 304 the contract declares for no operation.
  app.set('etag', false);
  if (deps.metrics) app.use(deps.metrics.countRequests());
  app.use(logAndAuditRequests(deps.log, deps.audit));
  // The Engine API proxy reads its own bodies: streamed to the engine, or judged whole (engine-proxy.ts).
  app.use(express.json({ limit: deps.bodyLimit, type: (req) => !isEngineProxyPath(req.url ?? '') && isJson(req) }));
  // Public, before authentication and before the contract validator (which would 404 what it does not know).
  app.use(onlyUnder(PUBLIC_PATHS, publicRoutes(deps)));
  const validation = compileContractValidation();
  const preAuth = new PreAuthLimit(deps.preAuthRateLimitPerMinute ?? 0);
  // An agent joining has no API key yet: its join token is its credential (a refused one counts as a failed authentication).
  app.use(onlyUnder(JOIN_PATH, agentJoinRoute(deps.identities, validation.forOperation({ method: 'post', path: '/agent/join' }), preAuth)));
  const maxKeyTtlSeconds = deps.maxKeyTtlSeconds ?? DEFAULT_MAX_KEY_TTL_SECONDS;
  app.use(authenticate(deps.jwtSecret, (jti) => deps.revocations.isRevoked(jti), maxKeyTtlSeconds, preAuth));
  app.use(perKeyRateLimit(deps.rateLimitPerMinute));
  app.use(refuseChangesWhileAuditFull(() => deps.audit.full, (err, req, res, next) => (isEngineProxyPath(req.url) ? sendProxyError(res, err) : next(err))));
  // Before the contract's validator: the proxy's endpoints are the contract's `x-engine-proxy` map, not its paths.
  if (deps.engineProxy) app.use(engineProxyRoutes({ ...deps.engineProxy, bodyLimit: deps.bodyLimit, accessPolicy: accessPolicyOf(deps) }));
  // The node operations validate on their own routes: one route lookup per call, and no turn of the
  // event loop for leaving a validation router (express' router leaves by setImmediate).
  app.use(nodeRoutes(deps.jobs, deps.transfers, validation, accessPolicyOf(deps), (jti) => deps.revocations.isRevoked(jti)));
  app.use(validation.router((op) => op.nodeTargeted));
  app.use(finiteQueryNumbers);
  app.use(jobRoutes(deps.jobs, deps.store, deps.roster));
  app.use(rolloutControlRoutes(deps.jobs, deps.store, deps.roster));
  app.use(agentRoutes(deps.roster, deps.identities));
  app.use(feedRoutes({ store: deps.store, feed: deps.feed, roster: deps.roster, isRevoked: (jti) => deps.revocations.isRevoked(jti), maxBufferedBytes: deps.jobs.streamBufferBytes }));
  app.use(auditRoutes(deps.audit, deps.roster));
  app.use(tokenRoutes(deps.revocations, deps.mintedKeys, { jwtSecret: deps.jwtSecret, maxKeyTtlSeconds }));
  app.use(whoamiRoutes());
  app.use(targetRoutes(deps.jobs));
  app.use(unknownRoute);
  app.use(errorHandler(deps.log));
  return app;
}

function accessPolicyOf(deps: GatewayDeps): AccessPolicy {
  return deps.accessPolicy ?? { registries: DEFAULT_REGISTRIES };
}

function nodeRoutes(jobs: JobClient, transfers: Transfers, validation: ContractValidation, accessPolicy: AccessPolicy, isRevoked: (jti: string) => boolean): RequestHandler {
  const router = Router();
  mountNodeOperations(router, jobs, transfers, (spec) => [validation.forOperation(spec), finiteQueryNumbers], accessPolicy, isRevoked);
  // An OPTIONS call goes on to the validation router's 405, as every method the contract does not
  // declare: on a path with routes, express' router would answer it itself (200, `Allow: GET, HEAD`).
  return (req, res, next) => (req.method === 'OPTIONS' ? next() : router(req, res, next));
}

/** Every path the public routes answer (any case, as express matches them): /health, /openapi.json, /docs, /ui, /metrics. */
const PUBLIC_PATHS = /^\/(?:health|openapi\.json|docs|ui|metrics)(?:[/?]|$)/i;

const JOIN_PATH = /^\/agent\/join(?:\?|$)/i;

function publicRoutes(deps: GatewayDeps): Router {
  const router = Router();
  router.use(healthRoutes(deps.readiness));
  router.use(docsRoutes());
  router.use(uiRoutes());
  if (deps.metrics) router.use(metricsRoutes(deps.metrics.collectors, { token: deps.metricsToken, public: deps.metricsPublic === true }));
  return router;
}

/**
 * Only requests whose URL `pattern` matches enter `router`; any other goes on at once. Through a
 * router that has no route for it, a request would wait a turn of the event loop (express' router
 * leaves by setImmediate) behind every other request and broker message ready at that moment.
 */
function onlyUnder(pattern: RegExp, router: Router): RequestHandler {
  return (req, res, next) => (pattern.test(req.url) ? router(req, res, next) : next());
}

function isJson(req: IncomingMessage): boolean {
  return /^application\/json\s*(;|$)/i.test(req.headers['content-type'] ?? '');
}

/**
 * The server's `upgrade` event: an Engine API hijack (`docker exec`, `docker attach`) goes through
 * the same app as every request (authentication, rate limit, audit), on a response bound to the
 * raw socket, which the proxy takes over once the engine switched protocols. Any other upgrade is
 * refused: the gateway speaks no other protocol.
 */
export function upgradeHandler(app: Express): (req: IncomingMessage, socket: Duplex, head: Buffer) => void {
  return (req, socket, head) => {
    const res = new ServerResponse(req);
    res.shouldKeepAlive = false;
    res.assignSocket(socket as never);
    // An answer other than 101 ends the connection: the client wanted a stream and gets none.
    res.once('finish', () => {
      if (res.statusCode !== 101) socket.end();
    });
    if (!isEngineProxyPath(req.url ?? '')) {
      sendProxyError(res, new ApiError(400, 'invalid request', 'the gateway upgrades connections only for Engine API hijacks under /node/<hostname>/docker/'));
      return;
    }
    markUpgrade(req, head);
    app(req, res);
  };
}
