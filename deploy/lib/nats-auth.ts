import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { agentPermissions, gatewayPermissions, type SubjectPermissions } from '@fleet/contracts/nats-permissions';

export interface NatsCredentials {
  user: string;
  /** Mode 600; services read it through FLEET_NATS_PASSWORD_FILE, so it never sits in an environment. */
  passwordFile: string;
}

export interface NatsUsers {
  gateway: NatsCredentials;
  agents: Record<string, NatsCredentials>;
}

interface NatsUser {
  user: string;
  password: string;
  permissions: SubjectPermissions;
}

export function agentUserName(hostname: string): string {
  return `agent-${hostname}`;
}

/**
 * One NATS user for the gateway and one per agent, each with a fresh random
 * password and the subject permissions of its role. Returns the credentials
 * and the `authorization` block for nats-server's config (mode 600 as well).
 */
export function generateNatsUsers(dir: string, hostnames: string[]): { users: NatsUsers; config: string } {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const entries: NatsUser[] = [];
  const issue = (user: string, permissions: SubjectPermissions): NatsCredentials => {
    const password = randomBytes(24).toString('hex');
    const passwordFile = join(dir, `${user}.password`);
    writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });
    entries.push({ user, password, permissions });
    return { user, passwordFile };
  };
  const gateway = issue('gateway', gatewayPermissions());
  const agents = Object.fromEntries(hostnames.map((hostname) => [hostname, issue(agentUserName(hostname), agentPermissions(hostname))]));
  // nats-server reads JSON as its own config syntax.
  return { users: { gateway, agents }, config: `authorization: ${JSON.stringify({ users: entries }, null, 2)}\n` };
}

/** The environment a service needs to log in as `credentials`. */
export function natsLoginEnv(credentials: NatsCredentials | undefined): Record<string, string> {
  return credentials ? { FLEET_NATS_USER: credentials.user, FLEET_NATS_PASSWORD_FILE: credentials.passwordFile } : {};
}
