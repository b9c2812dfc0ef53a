import { ServerResponse, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import express, { Router, type Express, type RequestHandler } from 'express';
import type { Logger } from 'pino';
import { DEFAULT_MAX_KEY_TTL_SECONDS } from '@fleet/api-keys';
import type { AgentIdentities } from './agents/identity';
import { DEFAULT_REGISTRIES, type AccessPolicy } from '@fleet/contracts/host-access';
import type { AgentRoster } from './agents/roster';
import type { OperationSpec } from '@fleet/contracts/operations';
import type { AuditLog } from './audit/log';
import { authenticate } from './auth/middleware';
import { PreAuthLimit } from './auth/pre-auth-limit';
import type { MintedKeys } from './auth/minted-keys';
import type { Revocations } from './auth/revocations';
import { errorHandler, unknownRoute } from './http/error-answer';
import { finiteQueryNumbers } from './http/finite-numbers';
import { refuseChangesWhileAuditFull } from './http/audit-gate';
import { logAndAuditRequests } from './http/request-log';
import { perKeyRateLimit } from './http/rate-limit';
import { compileContractValidation } from './http/validation';
import type { JobClient } from './jobs/client';
import type { ResultFeed } from './jobs/feed';
import type { IdempotencyKeys } from './jobs/idempotency';
import { Reruns } from './jobs/rerun';
import type { JobStore } from './jobs/store';
import type { GatewayMetrics } from './metrics';
import { agentHandlers, agentJoinHandler } from './routes/agents';
import { auditHandlers } from './routes/audit';
import { docsAssetRoutes, docsHandlers } from './routes/docs';
import { engineProxyRoutes, isEngineProxyPath, markUpgrade, sendProxyError, type EngineProxyDeps } from './routes/engine-proxy';
import { feedHandlers } from './routes/feeds';
import { healthHandlers, type ReadinessProbe } from './routes/health';
import { metricsHandler } from './routes/metrics';
import { jobHandlers } from './routes/jobs';
import { mountNodeOperations } from './routes/node/mount';
import { rolloutControlHandlers } from './routes/rollout-controls';
import { mountGatewayOperations, type GatewayHandlers } from './routes/operation-table';
import { targetHandlers } from './routes/targets';
import { stackHandlers } from './routes/stacks';
import type { StackService } from './stacks/service';
import { tokenHandlers } from './routes/tokens';
import type { Transfers } from './routes/node/transfers';
import { uiRoutes } from './routes/ui';
import { whoamiHandler } from './routes/whoami';
import { badRequest } from './api-error';

export interface GatewayDeps {
  jwtSecret: string;
  bodyLimit: string;
  jobs: JobClient;
  /** Operations whose body or answer is a file: the upload store and the download relay. */
  transfers: Transfers;
  store: JobStore;
  /** Idempotency keys of mutating calls (README "Retries and idempotency"). */
  idempotency: IdempotencyKeys;
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
  /** The `/stack` resource (README "Stacks"). */
  stacks: StackService;
}

/**
 * HTTP layer: parse, authenticate, validate against the contract, route. Every operation of the
 * contract is mounted from it: the node operations by node/mount.ts, the gateway's own from one
 * table of handlers keyed by operationId (gatewayHandlers); the contract's `security: []` ones
 * before authentication.
 */
export function createApp(deps: GatewayDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  // No ETag: express would hash every JSON body (SHA-1) to offer a 304 the contract declares for no operation.
  app.set('etag', false);
  if (deps.metrics) app.use(deps.metrics.countRequests());
  app.use(logAndAuditRequests(deps.log, deps.audit));
  // The Engine API proxy reads its own bodies: streamed to the engine, or judged whole (engine-proxy.ts).
  app.use(express.json({ limit: deps.bodyLimit, type: (req) => !isEngineProxyPath(req.url ?? '') && isJson(req) }));
  const validation = compileContractValidation();
  const preAuth = new PreAuthLimit(deps.preAuthRateLimitPerMinute ?? 0);
  const maxKeyTtlSeconds = deps.maxKeyTtlSeconds ?? DEFAULT_MAX_KEY_TTL_SECONDS;
  const handlers = gatewayHandlers(deps, preAuth, maxKeyTtlSeconds);
  const checks = (spec: OperationSpec) => [validation.forOperation(spec), finiteQueryNumbers];
  // Health, docs, metrics and an agent's join (its join token is its credential): before authentication.
  app.use(onlyUnder(PUBLIC_PATHS, publicRoutes(handlers, checks)));
  app.use(authenticate(deps.jwtSecret, (jti) => deps.revocations.isRevoked(jti), maxKeyTtlSeconds, preAuth));
  app.use(perKeyRateLimit(deps.rateLimitPerMinute));
  app.use(
    refuseChangesWhileAuditFull(
      () => deps.audit.full,
      (err, req, res, next) => (isEngineProxyPath(req.url) ? sendProxyError(res, err) : next(err)),
    ),
  );
  // Before the contract's validator: the proxy's endpoints are the contract's `x-engine-proxy` map, not its paths.
  if (deps.engineProxy) app.use(engineProxyRoutes({ ...deps.engineProxy, bodyLimit: deps.bodyLimit, accessPolicy: accessPolicyOf(deps) }));
  // The node operations validate on their own routes: one route lookup per call, and no turn of the
  // event loop for leaving a validation router (express' router leaves by setImmediate).
  app.use(nodeRoutes(deps.jobs, deps.transfers, checks, accessPolicyOf(deps), deps.idempotency, (jti) => deps.revocations.isRevoked(jti)));
  const gatewayRoutes = Router();
  mountGatewayOperations(gatewayRoutes, handlers, (spec) => !spec.public, checks);
  app.use(withoutOptions(gatewayRoutes));
  app.use(validation.methodNotAllowed());
  app.use(unknownRoute);
  app.use(errorHandler(deps.log));
  return app;
}

function accessPolicyOf(deps: GatewayDeps): AccessPolicy {
  return deps.accessPolicy ?? { registries: DEFAULT_REGISTRIES };
}

type OperationChecks = (spec: OperationSpec) => RequestHandler[];

function nodeRoutes(
  jobs: JobClient,
  transfers: Transfers,
  checks: OperationChecks,
  accessPolicy: AccessPolicy,
  idempotency: IdempotencyKeys,
  isRevoked: (jti: string) => boolean,
): RequestHandler {
  const router = Router();
  mountNodeOperations(router, jobs, transfers, checks, accessPolicy, idempotency, isRevoked);
  return withoutOptions(router);
}

/**
 * An OPTIONS call goes on to the contract's 405, as every method the contract does not declare:
 * on a path with routes, express' router would answer it itself (200, `Allow: GET, HEAD`).
 */
function withoutOptions(router: Router): RequestHandler {
  return (req, res, next) => (req.method === 'OPTIONS' ? next() : router(req, res, next));
}

/** The handler of every gateway operation (the node operations are node/mount.ts'). */
export function gatewayHandlers(deps: GatewayDeps, preAuth: PreAuthLimit, maxKeyTtlSeconds: number): GatewayHandlers {
  const isRevoked = (jti: string) => deps.revocations.isRevoked(jti);
  return {
    ...healthHandlers(deps.readiness),
    ...docsHandlers(),
    ...metricsHandler(deps.metrics?.collectors, { token: deps.metricsToken, public: deps.metricsPublic === true }),
    ...agentJoinHandler(deps.identities, preAuth),
    ...agentHandlers(deps.roster, deps.identities),
    ...jobHandlers(deps.jobs, deps.store, deps.roster, new Reruns(deps.jobs, deps.store, accessPolicyOf(deps), deps.log)),
    ...rolloutControlHandlers(deps.jobs, deps.store, deps.roster),
    ...feedHandlers({ store: deps.store, feed: deps.feed, roster: deps.roster, isRevoked, maxBufferedBytes: deps.jobs.streamBufferBytes }),
    ...auditHandlers(deps.audit, deps.roster),
    ...tokenHandlers(deps.revocations, deps.mintedKeys, { jwtSecret: deps.jwtSecret, maxKeyTtlSeconds }),
    ...whoamiHandler,
    ...targetHandlers(deps.jobs),
    ...stackHandlers(deps.stacks),
  };
}

/**
 * Every path the public routes answer (any case, as express matches them): /health, /openapi.json,
 * /docs, /ui, /metrics, and /agent/join exactly.
 */
const PUBLIC_PATHS = /^\/(?:(?:health|openapi\.json|docs|ui|metrics)(?:[/?]|$)|agent\/join(?:\?|$))/i;

function publicRoutes(handlers: GatewayHandlers, checks: OperationChecks): Router {
  const router = Router();
  mountGatewayOperations(router, handlers, (spec) => spec.public, checks);
  router.use(docsAssetRoutes());
  router.use(uiRoutes());
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
      sendProxyError(res, badRequest('the gateway upgrades connections only for Engine API hijacks under /node/<hostname>/docker/'));
      return;
    }
    markUpgrade(req, head);
    app(req, res);
  };
}
