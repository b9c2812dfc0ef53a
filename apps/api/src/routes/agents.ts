import type { Request, Response } from 'express';
import { DEFAULT_JOIN_TOKEN_TTL_SECONDS, type AgentIdentities } from '../agents/identity';
import type { AgentRoster } from '../agents/roster';
import { callerOf } from '../auth/middleware';
import type { PreAuthLimit } from '../auth/pre-auth-limit';
import { ApiError, notFound } from '../api-error';
import { KeyScope } from '../targets/scope';
import { listAgents } from './agent-list';
import type { GatewayOperationName } from '@fleet/contracts/operations';
import type { GatewayHandlers } from './operation-table';

/** The agent operations an API key calls (an agent's own join is agentJoinHandler's). */
type AgentOperation = Exclude<Extract<GatewayOperationName, `agent.${string}`>, 'agent.join'>;

/** A scoped key sees and drains only the agents inside its scope; the others answer as if they did not exist. */
export function agentHandlers(roster: AgentRoster, identities: AgentIdentities): Pick<GatewayHandlers, AgentOperation> {
  const scopeOf = (res: Response) => KeyScope.of(callerOf(res).scope, roster);
  const setDrained = (drained: boolean) => async (req: Request, res: Response) => {
    const hostname = String(req.params.hostname);
    const scope = scopeOf(res);
    requireAgent(roster, hostname, scope);
    await roster.setDrained(hostname, drained, callerOf(res).sub);
    res.json(requireAgent(roster, hostname, scope));
  };
  return {
    'agent.list': (req, res) => {
      res.json(listAgents(roster, scopeOf(res), req));
    },
    'agent.get': (req, res) => {
      res.json(requireAgent(roster, String(req.params.hostname), scopeOf(res)));
    },
    'agent.drain': setDrained(true),
    'agent.undrain': setDrained(false),
    'agent.accept': async (req, res) => {
      const by = unscopedCaller(res);
      res.json(await roster.accept(String(req.params.hostname), by, labelsOf(req)));
    },
    'agent.label': async (req, res) => {
      const by = unscopedCaller(res);
      const hostname = String(req.params.hostname);
      const enrollment = await roster.setLabels(hostname, labelsOf(req) ?? {}, by);
      if (!enrollment) {
        throw notFound('agent not accepted', `'${hostname}' is not an accepted agent; accept it first (POST /agent/${hostname}/accept)`);
      }
      res.json(enrollment);
    },
    'agent.joinToken': async (req, res) => {
      const by = unscopedCaller(res);
      const ttlSeconds = (req.body as { ttl_seconds?: number } | undefined)?.ttl_seconds ?? DEFAULT_JOIN_TOKEN_TTL_SECONDS;
      res.status(201).json(await identities.issueJoinToken(String(req.params.hostname), ttlSeconds, by));
    },
    'agent.rotate': async (req, res) => {
      unscopedCaller(res);
      res.json(await identities.rotate(String(req.params.hostname)));
    },
    'agent.remove': async (req, res) => {
      unscopedCaller(res);
      const hostname = String(req.params.hostname);
      const removal = await identities.remove(hostname);
      await roster.withdraw(hostname);
      res.json(removal);
    },
  };
}

/**
 * POST /agent/join: public (an agent has no API key), authenticated by its join token alone. A
 * refused token counts against the client address's failed authentications, as a refused API key does.
 */
export function agentJoinHandler(identities: AgentIdentities, preAuth: PreAuthLimit): Pick<GatewayHandlers, 'agent.join'> {
  return {
    'agent.join': async (req, res) => {
      const body = req.body as { hostname: string; token: string; public_key: string };
      try {
        res.json(await identities.join(body.hostname, body.token, body.public_key));
      } catch (err) {
        if (err instanceof ApiError && (err.status === 401 || err.status === 403)) throw preAuth.refusal(req.ip) ?? err;
        throw err;
      }
    },
  };
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
    throw new ApiError(
      'out_of_scope',
      `enrolling, labelling or removing agents needs an unscoped key; this key is scoped to '${caller.scope}'`,
    );
  }
  return caller.sub;
}

/** A scoped key gets one answer for every host it may not see, existing or not (KeyScope.nothingInside). */
function requireAgent(roster: AgentRoster, hostname: string, scope: KeyScope) {
  const agent = roster.get(hostname);
  if (agent && scope.includesHost(hostname)) return agent;
  throw notFound('agent not found', scope.unscoped ? `no live agent '${hostname}'` : scope.nothingInside);
}
