import { Router, type Response } from 'express';
import type { AgentRegistry } from '../agents/registry';
import { authorize, callerOf } from '../auth/middleware';
import { notFound } from '../errors';

export function agentRoutes(registry: AgentRegistry): Router {
  const router = Router();
  router.get('/agent', authorize('agent:read'), (_req, res) => {
    res.json({ agents: registry.list() });
  });
  router.get('/agent/:hostname', authorize('agent:read'), (req, res) => {
    res.json(requireAgent(registry, String(req.params.hostname)));
  });
  const setDrained = (drained: boolean) => async (req: { params: { hostname: string } }, res: Response) => {
    requireAgent(registry, req.params.hostname);
    await registry.setDrained(req.params.hostname, drained, callerOf(res).sub);
    res.json(requireAgent(registry, req.params.hostname));
  };
  router.post('/agent/:hostname/drain', authorize('agent:write'), setDrained(true));
  router.post('/agent/:hostname/undrain', authorize('agent:write'), setDrained(false));
  return router;
}

function requireAgent(registry: AgentRegistry, hostname: string) {
  const agent = registry.get(hostname);
  if (!agent) throw notFound('agent not found', `no live agent '${hostname}'`);
  return agent;
}
