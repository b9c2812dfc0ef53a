import { Router, type Response } from 'express';
import type { AgentRoster } from '../agents/roster';
import { authorize, callerOf } from '../auth/middleware';
import { notFound } from '../errors';

export function agentRoutes(roster: AgentRoster): Router {
  const router = Router();
  router.get('/agent', authorize('agent:read'), (_req, res) => {
    res.json({ agents: roster.list() });
  });
  router.get('/agent/:hostname', authorize('agent:read'), (req, res) => {
    res.json(requireAgent(roster, String(req.params.hostname)));
  });
  const setDrained = (drained: boolean) => async (req: { params: { hostname: string } }, res: Response) => {
    requireAgent(roster, req.params.hostname);
    await roster.setDrained(req.params.hostname, drained, callerOf(res).sub);
    res.json(requireAgent(roster, req.params.hostname));
  };
  router.post('/agent/:hostname/drain', authorize('agent:write'), setDrained(true));
  router.post('/agent/:hostname/undrain', authorize('agent:write'), setDrained(false));
  return router;
}

function requireAgent(roster: AgentRoster, hostname: string) {
  const agent = roster.get(hostname);
  if (!agent) throw notFound('agent not found', `no live agent '${hostname}'`);
  return agent;
}
