import { chmodSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KeyPair } from '@nats-io/nkeys';

import { gatewayPermissions } from '@fleet/contracts/nats-permissions';
import {
  credsFileContent,
  gatewayAccountJwt,
  keyPairOfSeed,
  newAccountKey,
  newOperatorKey,
  newUserKey,
  operatorJwt,
  systemAccountJwt,
  userJwt,
} from '@fleet/runtime/nats-identity';
import { ensurePrivateDir, writeSecretFile } from './secret-files';

/**
 * The fleet's NATS operator (README "What an agent's NATS login can and cannot do"): made once per
 * fleet, in a mode-700 directory. The operator's identity seed signs only the operator JWT and its
 * signing key; the signing key signs accounts (the gateway holds it to enrol agents); the system
 * account's user lets the gateway push account JWTs to the servers' resolvers at run time.
 */
export interface NatsOperator {
  dir: string;
  operatorJwt: string;
  systemAccount: string;
  /** Account public key → account JWT: what every server's resolver starts with. */
  preload: Record<string, string>;
  /** The gateway's login in the FLEET account (creds file, mode 600). */
  gatewayCredsFile: string;
  /** The gateway's login in the system account, to push account JWTs (creds file, mode 600). */
  systemCredsFile: string;
  /** The operator's signing key seed: signs agent accounts (gateway only). */
  accountSignerFile: string;
  /** The FLEET account's seed: signs the activation of each agent account's imports (gateway only). */
  gatewayAccountSeedFile: string;
  /** The one key that signs agents' users, in every agent account (gateway only). */
  agentUserSignerFile: string;
}

const FILES = {
  operatorSeed: 'operator.seed',
  operatorJwt: 'operator.jwt',
  signingKey: 'operator-signing.seed',
  systemSeed: 'sys-account.seed',
  gatewaySeed: 'fleet-account.seed',
  agentUserSigner: 'agent-users.seed',
  systemCreds: 'sys.creds',
  gatewayCreds: 'gateway.creds',
};

/** Creates the operator, SYS and FLEET accounts and the gateway's logins in `dir`, or loads the ones already there. */
export function createNatsOperator(dir: string): NatsOperator {
  ensurePrivateDir(dir);
  const file = (name: keyof typeof FILES): string => join(dir, FILES[name]);
  // What is there already is kept (and made private again, whatever mode a copy left it in): the
  // servers and every agent trust these keys.
  const kept = (name: keyof typeof FILES, make: () => string): string => {
    if (!existsSync(file(name))) writeSecretFile(file(name), make());
    chmodSync(file(name), 0o600);
    return readFileSync(file(name), 'utf8');
  };
  const key = (name: keyof typeof FILES, create: () => KeyPair): KeyPair =>
    keyPairOfSeed(kept(name, () => `${Buffer.from(create().getSeed()).toString('utf8')}\n`));
  const operator = key('operatorSeed', newOperatorKey);
  const signingKey = key('signingKey', newOperatorKey);
  const system = key('systemSeed', newAccountKey);
  const gateway = key('gatewaySeed', newAccountKey);
  key('agentUserSigner', newAccountKey);
  const jwt = kept('operatorJwt', () => `${operatorJwt(operator, signingKey, system.getPublicKey())}\n`).trim();
  kept('systemCreds', () => newCreds(system, 'gateway-sys', { publish: { allow: ['>'] }, subscribe: { allow: ['>'] } }));
  kept('gatewayCreds', () => newCreds(gateway, 'gateway', gatewayPermissions()));
  return {
    dir,
    operatorJwt: jwt,
    systemAccount: system.getPublicKey(),
    preload: {
      [system.getPublicKey()]: systemAccountJwt(signingKey, system),
      [gateway.getPublicKey()]: gatewayAccountJwt(signingKey, gateway),
    },
    gatewayCredsFile: file('gatewayCreds'),
    systemCredsFile: file('systemCreds'),
    accountSignerFile: file('signingKey'),
    gatewayAccountSeedFile: file('gatewaySeed'),
    agentUserSignerFile: file('agentUserSigner'),
  };
}

function newCreds(account: KeyPair, name: string, permissions: Parameters<typeof userJwt>[3]): string {
  const user = newUserKey();
  return credsFileContent(userJwt(account, user.getPublicKey(), name, permissions), user.getSeed());
}

/**
 * nats-server's operator mode: trust this operator only, a full resolver (it keeps every account
 * JWT pushed to it in `resolverDir` and, in a cluster, syncs them with its peers) preloaded with
 * SYS and FLEET. Agents' accounts arrive at run time, pushed by the gateway.
 */
export function operatorConfig(operator: Pick<NatsOperator, 'operatorJwt' | 'systemAccount' | 'preload'>, resolverDir: string): string {
  const preload = Object.entries(operator.preload).map(([account, jwt]) => `  ${account}: ${JSON.stringify(jwt)}`);
  return [
    `operator: ${JSON.stringify(operator.operatorJwt)}`,
    `system_account: ${JSON.stringify(operator.systemAccount)}`,
    `resolver: {\n  type: full\n  dir: ${JSON.stringify(resolverDir)}\n  allow_delete: false\n  interval: "2m"\n}`,
    `resolver_preload: {\n${preload.join('\n')}\n}`,
  ].join('\n');
}

/** The environment the gateway needs for its logins and to enrol agents. */
export function gatewayIdentityEnv(operator: NatsOperator): Record<string, string> {
  return {
    FLEET_NATS_CREDS_FILE: operator.gatewayCredsFile,
    FLEET_NATS_SYSTEM_CREDS_FILE: operator.systemCredsFile,
    FLEET_NATS_ACCOUNT_SIGNER_FILE: operator.accountSignerFile,
    FLEET_NATS_ACCOUNT_SEED_FILE: operator.gatewayAccountSeedFile,
    FLEET_NATS_AGENT_USER_SIGNER_FILE: operator.agentUserSignerFile,
  };
}
