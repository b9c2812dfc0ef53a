/**
 * The NATS account layout (README "What an agent's NATS login can and cannot do"): the gateway's
 * account owns JetStream and every stream and bucket; each agent has an account of its own,
 * without JetStream, holding only its user and the imports of ./nats-permissions.ts. The
 * gateway's account exports those subjects with a wildcard for the host and requires an
 * activation per importing account and subject; @fleet/runtime/nats-identity signs the JWTs.
 */

export const GATEWAY_ACCOUNT = 'FLEET';

/** nats-server's own account (`system_account`): the gateway pushes account JWTs to the resolver through it. */
export const SYSTEM_ACCOUNT = 'SYS';

export function agentAccountName(hostname: string): string {
  return `AGENT_${hostname}`;
}
