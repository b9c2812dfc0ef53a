/**
 * The NATS account layout (README "What an agent's NATS login can and cannot do"): the gateway's
 * account owns JetStream and every stream and bucket; each agent has an account of its own,
 * without JetStream, holding only its user and the imports of ./nats-permissions.ts. Each export
 * names the one account that may import it. deploy/ turns this into nats-server's config.
 */
import { agentImports, agentPermissions, gatewayPermissions, type SubjectPermissions } from './nats-permissions';

export const GATEWAY_ACCOUNT = 'FLEET';

export function agentAccountName(hostname: string): string {
  return `AGENT_${hostname}`;
}

export interface NatsUserEntry {
  user: string;
  /** A bcrypt hash (or whatever nats-server accepts as `password`). */
  password: string;
  permissions: SubjectPermissions;
}

interface ExportEntry {
  service?: string;
  stream?: string;
  accounts: string[];
}

type ImportEntry = { service: { account: string; subject: string }; to?: string } | { stream: { account: string; subject: string }; to?: string };

interface AccountEntry {
  jetstream?: 'enabled';
  users: NatsUserEntry[];
  exports?: ExportEntry[];
  imports?: ImportEntry[];
}

export interface NatsLogin {
  user: string;
  password: string;
}

/** The `accounts` block of nats-server's config for the gateway's login and one login per agent (keyed by hostname). */
export function natsAccounts(gateway: NatsLogin, agents: Record<string, NatsLogin>): Record<string, AccountEntry> {
  const exported = new Map<string, ExportEntry>();
  const accounts: Record<string, AccountEntry> = {};
  for (const [hostname, login] of Object.entries(agents)) {
    const account = agentAccountName(hostname);
    const imports = agentImports(hostname);
    for (const item of imports) {
      const key = `${item.kind} ${item.subject}`;
      const entry = exported.get(key) ?? { [item.kind]: item.subject, accounts: [] };
      entry.accounts.push(account);
      exported.set(key, entry);
    }
    accounts[account] = {
      users: [{ ...login, permissions: agentPermissions(hostname) }],
      imports: imports.map((item) => {
        const from = { account: GATEWAY_ACCOUNT, subject: item.subject };
        const to = item.as ? { to: item.as } : {};
        return item.kind === 'service' ? { service: from, ...to } : { stream: from, ...to };
      }),
    };
  }
  return {
    [GATEWAY_ACCOUNT]: { jetstream: 'enabled', users: [{ ...gateway, permissions: gatewayPermissions() }], exports: [...exported.values()] },
    ...accounts,
  };
}
