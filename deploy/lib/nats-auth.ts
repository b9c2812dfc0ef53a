import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { natsAccounts, type NatsLogin } from '@fleet/contracts/nats-accounts';
import { ensurePrivateDir, writeSecretFile } from './secret-files';

export interface NatsCredentials {
  user: string;
  /** Mode 600; services read it through FLEET_NATS_PASSWORD_FILE, so it never sits in an environment. */
  passwordFile: string;
}

export interface NatsUsers {
  gateway: NatsCredentials;
  agents: Record<string, NatsCredentials>;
}

/**
 * Low on purpose: each password is 24 random bytes (192 bits), which no work factor needs to
 * protect from guessing; the hash is there so the config holds nothing to log in with. The cost is
 * paid by nats-server on every login and reconnect (a whole fleet reconnecting after a broker
 * restart) and by `fleet up` per user, so it is kept small.
 */
const BCRYPT_COST = 8;

/**
 * A bcrypt hash nats-server accepts in place of a password (it checks a login against it). The
 * `$2a$` prefix: nats-server 2.9 recognises it, and for these ASCII passwords it is the same
 * algorithm as bcryptjs's `$2b$`.
 */
export function natsPasswordHash(password: string): string {
  return bcrypt.hashSync(password, BCRYPT_COST).replace(/^\$2b\$/, '$2a$');
}

export function agentUserName(hostname: string): string {
  return `agent-${hostname}`;
}

/**
 * One NATS user for the gateway and one per agent, each with a fresh random password (in its own
 * mode-600 file), laid out in accounts: the gateway's, which owns JetStream, and one per agent
 * holding only what that agent may reach (@fleet/contracts/nats-accounts). Returns the
 * credentials and the `accounts` block for nats-server's config, which holds bcrypt hashes only
 * (the config never holds a password its readers could log in with; still mode 600: it lists the users).
 */
export function generateNatsUsers(dir: string, hostnames: string[]): { users: NatsUsers; config: string } {
  ensurePrivateDir(dir);
  const issue = (user: string): { credentials: NatsCredentials; login: NatsLogin } => {
    const password = randomBytes(24).toString('hex');
    const passwordFile = join(dir, `${user}.password`);
    writeSecretFile(passwordFile, `${password}\n`);
    return { credentials: { user, passwordFile }, login: { user, password: natsPasswordHash(password) } };
  };
  const gateway = issue('gateway');
  const agents = Object.fromEntries(hostnames.map((hostname) => [hostname, issue(agentUserName(hostname))]));
  const accounts = natsAccounts(gateway.login, Object.fromEntries(Object.entries(agents).map(([hostname, issued]) => [hostname, issued.login])));
  const users = { gateway: gateway.credentials, agents: Object.fromEntries(Object.entries(agents).map(([hostname, issued]) => [hostname, issued.credentials])) };
  // nats-server reads JSON as its own config syntax.
  return { users, config: `accounts: ${JSON.stringify(accounts, null, 2)}\n` };
}

/** The environment a service needs to log in as `credentials`. */
export function natsLoginEnv(credentials: NatsCredentials | undefined): Record<string, string> {
  return credentials ? { FLEET_NATS_USER: credentials.user, FLEET_NATS_PASSWORD_FILE: credentials.passwordFile } : {};
}
