import type { Request } from 'express';
import { labelsMatch, parseTarget, TargetSyntaxError, type Target } from '@fleet/contracts/grammar';
import type { AgentPage, AgentQuery, AgentRoster, AgentStateFilter } from '../agents/roster';
import { ApiError } from '../api-error';
import type { KeyScope } from '../targets/scope';

/** What `GET /agent` answers without `limit`: a page an operator reads, not the whole fleet. */
const DEFAULT_LIMIT = 100;

/**
 * `GET /agent`: one page of the agents the caller's scope reaches (README "Agents and heartbeats"). The
 * cursor is only a position in hostname order: the scope is applied to every page, so a cursor made up
 * by the caller can skip hosts but never reveal one outside the scope.
 */
export function listAgents(roster: AgentRoster, scope: KeyScope, req: Request): AgentPage {
  const { limit, cursor, offset, state, target, version, build } = req.query as Record<string, string | undefined>;
  if (cursor !== undefined && offset !== undefined) {
    throw new ApiError('validation_failed', 'cursor and offset both say where the page starts: pass one of them');
  }
  const query: AgentQuery = {
    visible: (hostname) => scope.includesHost(hostname),
    matches: target === undefined ? undefined : targetFilter(target),
    state: (state ?? 'live') as AgentStateFilter,
    agentVersion: version,
    build,
    after: cursor,
    offset: offset === undefined ? undefined : Number(offset),
    limit: limit === undefined ? DEFAULT_LIMIT : Number(limit),
  };
  return roster.page(query);
}

/** A target as a filter: what it would reach among the accepted hosts, drained and offline ones included. */
function targetFilter(raw: string): AgentQuery['matches'] {
  const target = parseFilterTarget(raw);
  if (target.kind === 'all') return undefined;
  if (target.kind === 'host') return (hostname) => hostname === target.hostname;
  if (target.kind === 'labels') return (_hostname, labels) => labelsMatch(labels, target.selectors);
  throw new ApiError('invalid_target', `target=${raw}: '_any' picks one host per call, it is no filter; use '_all' or label selectors`);
}

function parseFilterTarget(raw: string): Target {
  try {
    return parseTarget(raw);
  } catch (err) {
    if (err instanceof TargetSyntaxError) throw new ApiError('invalid_target', `target=${raw}: ${err.message}`);
    throw err;
  }
}
