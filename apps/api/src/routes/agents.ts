import { Router, type Request, type RequestHandler, type Response } from 'express';
import { DEFAULT_JOIN_TOKEN_TTL_SECONDS, type AgentIdentities } from '../agents/identity';
import type { AgentRoster } from '../agents/roster';
import { authorize, callerOf } from '../auth/middleware';
import type { PreAuthLimit } from '../auth/pre-auth-limit';
import { ApiError, notFound } from '../api-error';
import { KeyScope } from '../targets/scope';

/** A scoped key sees and drains only the agents inside its scope; the others answer as if they did not exist. */
export function agentRoutes(roster: AgentRoster, identities: AgentIdentities): Router {
  const router = Router();
  const scopeOf = (res: Response) => KeyScope.of(callerOf(res).scope, roster);
  router.get('/agent', authorize('agent:read'), (_req, res) => {
    const scope = scopeOf(res);
    res.json({ agents: roster.list().filter((agent) => scope.includesHost(agent.hostname)) });
  });
  router.get('/agent/:hostname', authorize('agent:read'), (req, res) => {
    res.json(requireAgent(roster, String(req.params.hostname), scopeOf(res)));
  });
  const setDrained = (drained: boolean) => async (req: { params: { hostname: string } }, res: Response) => {
    const scope = scopeOf(res);
    requireAgent(roster, req.params.hostname, scope);
    await roster.setDrained(req.params.hostname, drained, callerOf(res).sub);
    res.json(requireAgent(roster, req.params.hostname, scope));
  };
  router.post('/agent/:hostname/drain', authorize('agent:write'), setDrained(true));
  router.post('/agent/:hostname/undrain', authorize('agent:write'), setDrained(false));
  router.post('/agent/:hostname/accept', authorize('agent:write'), async (req, res) => {
    const by = unscopedCaller(res);
    res.json(await roster.accept(String(req.params.hostname), by, labelsOf(req)));
  });
  router.put('/agent/:hostname/labels', authorize('agent:write'), async (req, res) => {
    const by = unscopedCaller(res);
    const hostname = String(req.params.hostname);
    const enrollment = await roster.setLabels(hostname, labelsOf(req) ?? {}, by);
    if (!enrollment) throw notFound('agent not accepted', `'${hostname}' is not an accepted agent; accept it first (POST /agent/${hostname}/accept)`);
    res.json(enrollment);
  });
  router.post('/agent/:hostname/join-token', authorize('agent:write'), async (req, res) => {
    const by = unscopedCaller(res);
    const ttlSeconds = (req.body as { ttl_seconds?: number } | undefined)?.ttl_seconds ?? DEFAULT_JOIN_TOKEN_TTL_SECONDS;
    res.status(201).json(await identities.issueJoinToken(String(req.params.hostname), ttlSeconds, by));
  });
  router.delete('/agent/:hostname/identity', authorize('agent:write'), async (req, res) => {
    unscopedCaller(res);
    const hostname = String(req.params.hostname);
    const removal = await identities.remove(hostname);
    await roster.withdraw(hostname);
    res.json(removal);
  });
  return router;
}

/**
 * POST /agent/join: public (an agent has no API key), authenticated by its join token alone, the
 * body checked against the contract first. A refused token counts against the client address's
 * failed authentications, as a refused API key does.
 */
export function agentJoinRoute(identities: AgentIdentities, validate: RequestHandler, preAuth: PreAuthLimit): Router {
  const router = Router();
  router.post('/agent/join', validate, async (req, res) => {
    const body = req.body as { hostname: string; token: string; public_key: string };
    try {
      res.json(await identities.join(body.hostname, body.token, body.public_key));
    } catch (err) {
      if (err instanceof ApiError && (err.status === 401 || err.status === 403)) throw preAuth.refusal(req.ip) ?? err;
      throw err;
    }
  });
  return router;
}

/** The body was validated against the contract (AgentLabelsRequest); no body means none given. */
function labelsOf(req: Request): Record<string, string> | undefined {
  return (req.body as { labels?: Record<string, string> } | undefined)?.labels;
}

/**
 * Enrolment and labels decide which hosts every scope reaches, so a scoped key could move a host
 * into its own scope: only an unscoped key may change them. Returns the caller's subject.
 */
function unscopedCaller(res: Response): string {
  const caller = callerOf(res);
  if (caller.scope !== undefined) {
    throw new ApiError('out_of_scope', `enrolling, labelling or removing agents needs an unscoped key; this key is scoped to '${caller.scope}'`);
  }
  return caller.sub;
}

/** A scoped key gets one answer for every host it may not see, existing or not (KeyScope.nothingInside). */
function requireAgent(roster: AgentRoster, hostname: string, scope: KeyScope) {
  const agent = roster.get(hostname);
  if (agent && scope.includesHost(hostname)) return agent;
  throw notFound('agent not found', scope.unscoped ? `no live agent '${hostname}'` : scope.nothingInside);
}
