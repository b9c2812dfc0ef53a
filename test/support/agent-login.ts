import { readFileSync } from 'node:fs';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { agentCredsFile } from '@fleet/deploy';
import { natsLogin } from '@fleet/runtime/nats';
import { agentInboxPrefix } from '@fleet/contracts/nats-permissions';
import type { TestFleet } from './fleet';

/**
 * A NATS connection made exactly as an agent makes it (the creds it made when it joined, its inbox
 * prefix), so in that agent's own account, or as the gateway in the `FLEET` account: what an
 * attacker holding that login can do. Every error the server sends (permissions violations) is
 * kept, so a suite can assert the broker refused a subject.
 */
export class NatsLogin {
  private readonly errors: string[] = [];

  private constructor(readonly nc: NatsConnection) {
    void (async () => {
      for await (const status of nc.status()) if (status.type === 'error') this.errors.push(String(status.error));
    })();
  }

  /** Logs in with `hostname`'s agent credentials. */
  static async asAgent(fleet: TestFleet, hostname: string): Promise<NatsLogin> {
    const creds = readFileSync(agentCredsFile(fleet.state, hostname), 'utf8');
    return new NatsLogin(await connect({ servers: fleet.natsUrl, ...natsLogin(creds), inboxPrefix: agentInboxPrefix(hostname) }));
  }

  /** Logs in as the gateway (every subject of the account that owns JetStream): for set-ups no agent could make. */
  static async asGateway(fleet: TestFleet): Promise<NatsLogin> {
    const operator = fleet.state.natsOperator;
    if (!operator) throw new Error('the test fleet has no NATS operator');
    return new NatsLogin(await connect({ servers: fleet.natsUrl, ...natsLogin(readFileSync(operator.gatewayCredsFile, 'utf8')) }));
  }

  /** Waits (bounded) until the server reported a permissions violation naming `subject`. */
  async violationFor(subject: string): Promise<void> {
    for (let i = 0; i < 60 && !this.hasViolation(subject); i++) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(this.errors.find((error) => error.includes(subject))).toMatch(/permissions violation/i);
  }

  private hasViolation(subject: string): boolean {
    return this.errors.some((error) => error.includes(subject));
  }

  close(): Promise<void> {
    return this.nc.close();
  }
}

/** In useNatsLogins, the gateway's login rather than an agent's. */
export const GATEWAY_LOGIN = Symbol('the gateway login');

/**
 * NATS logins for the whole suite, each an agent's (by hostname) or the gateway's: made in this
 * order in beforeAll, closed in afterAll. Read them in tests and later hooks.
 */
export function useNatsLogins<Name extends string>(
  fleet: TestFleet,
  logins: Record<Name, string | typeof GATEWAY_LOGIN>,
): Record<Name, NatsLogin> {
  const made = {} as Record<Name, NatsLogin>;
  beforeAll(async () => {
    for (const [name, who] of Object.entries(logins) as Array<[Name, string | typeof GATEWAY_LOGIN]>) {
      made[name] = who === GATEWAY_LOGIN ? await NatsLogin.asGateway(fleet) : await NatsLogin.asAgent(fleet, who);
    }
  });
  afterAll(async () => {
    await Promise.all(Object.values<NatsLogin>(made).map((login) => login.close()));
  });
  return made;
}
