import { Router, type Response } from 'express';
import type { AgentRoster } from '../agents/roster';
import { authorize, callerOf } from '../auth/middleware';
import { notFound } from '../errors';
import { KeyScope } from '../targets/scope';

/** A scoped key sees and drains only the agents inside its scope; the others answer as if they did not exist. */
export function agentRoutes(roster: AgentRoster): Router {
  const router = Router();
  const scopeOf = (res: Response) => KeyScope.of(callerOf(res).scope, roster);
  router.get('/agent', authorize('agent:read'), (_req, res) => {
    const scope = scopeOf(res);
    res.json({ agents: roster.list().filter((agent) => scope.includesAgent(agent)) });
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
  return router;
}

function requireAgent(roster: AgentRoster, hostname: string, scope: KeyScope) {
  const agent = roster.get(hostname);
  if (!agent || !scope.includesAgent(agent)) throw notFound('agent not found', `no live agent '${hostname}'`);
  return agent;
}
