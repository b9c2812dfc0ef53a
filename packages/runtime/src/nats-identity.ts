import { createHash } from 'node:crypto';
import { createAccount, createOperator, createUser, fromPublic, fromSeed, type KeyPair } from '@nats-io/nkeys';
import { GATEWAY_ACCOUNT, SYSTEM_ACCOUNT, agentAccountName } from '@fleet/contracts/nats-accounts';
import { agentExports, agentImports, agentPermissions, type SubjectPermissions } from '@fleet/contracts/nats-permissions';

/**
 * NATS operator mode (README "What an agent's NATS login can and cannot do"): every identity is an
 * NKey whose seed stays where it was made, and every grant is a JWT signed by the key above it
 * (operator → account → user). nats-server checks a login by the signature of a fresh nonce, so
 * nothing that crosses the wire lets anyone log in again. The JWTs are nats-server's v2 claims,
 * signed with ed25519 (`alg: ed25519-nkey`).
 */

/** The agent's creds file (its user JWT and NKey seed, mode 600) in its identity directory. */
export const AGENT_CREDS_FILE = 'agent.creds';

export type ClaimType = 'operator' | 'account' | 'user' | 'activation';

export interface Claims {
  jti: string;
  iat: number;
  iss: string;
  sub: string;
  name?: string;
  nats: Record<string, unknown> & { type: ClaimType; version: 2 };
}

const HEADER = base64url(JSON.stringify({ typ: 'JWT', alg: 'ed25519-nkey' }));

/** Signs `nats` claims about `subject` with `signer`; the jti (the JWT's id) is a hash of the rest. */
export function signClaims(signer: KeyPair, subject: string, name: string, nats: Claims['nats']): string {
  const body: Omit<Claims, 'jti'> = { iat: Math.floor(Date.now() / 1000), iss: signer.getPublicKey(), sub: subject, name, nats };
  const jti = createHash('sha256').update(JSON.stringify(body)).digest('base64url');
  const payload = base64url(JSON.stringify({ jti, ...body }));
  const signature = Buffer.from(signer.sign(Buffer.from(`${HEADER}.${payload}`))).toString('base64url');
  return `${HEADER}.${payload}.${signature}`;
}

/** The claims of a JWT, its signature checked against its issuer; throws on anything else. */
export function verifiedClaims(jwt: string): Claims {
  const [header, payload, signature, ...rest] = jwt.split('.');
  if (header !== HEADER || !payload || !signature || rest.length > 0) throw new Error('not a NATS JWT');
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Claims;
  if (!fromPublic(claims.iss).verify(Buffer.from(`${header}.${payload}`), Buffer.from(signature, 'base64url')))
    throw new Error('bad JWT signature');
  return claims;
}

/** The decorated creds file nats clients read: the user's JWT and its seed. Mode 600, never logged. */
export function credsFileContent(userJwt: string, seed: Uint8Array): string {
  return [
    '-----BEGIN NATS USER JWT-----',
    userJwt,
    '------END NATS USER JWT------',
    '',
    '************************* IMPORTANT *************************',
    'NKEY Seed printed below can be used to sign and prove identity.',
    'NKEYs are sensitive and should be treated as secrets.',
    '',
    '-----BEGIN USER NKEY SEED-----',
    Buffer.from(seed).toString('utf8'),
    '------END USER NKEY SEED------',
    '',
  ].join('\n');
}

/** The user JWT inside a creds file (the public half; what the agent proves it holds the seed for). */
export function userJwtOfCreds(creds: string): string {
  const match = /-----BEGIN NATS USER JWT-----\s*([A-Za-z0-9_.-]+)\s*-+END NATS USER JWT-+/.exec(creds);
  if (!match) throw new Error('not a NATS creds file');
  return match[1];
}

export function keyPairOfSeed(seed: string): KeyPair {
  return fromSeed(Buffer.from(seed.trim()));
}

export function newUserKey(): KeyPair {
  return createUser();
}

export function newAccountKey(): KeyPair {
  return createAccount();
}

export function newOperatorKey(): KeyPair {
  return createOperator();
}

/** No limit, as nats-server's JWTs spell it. */
const UNLIMITED = -1;
const NO_JETSTREAM = { mem_storage: 0, disk_storage: 0, streams: 0, consumer: 0 };
const UNLIMITED_JETSTREAM = { mem_storage: UNLIMITED, disk_storage: UNLIMITED, streams: UNLIMITED, consumer: UNLIMITED };
const ACCOUNT_LIMITS = {
  subs: UNLIMITED,
  data: UNLIMITED,
  payload: UNLIMITED,
  imports: UNLIMITED,
  exports: UNLIMITED,
  wildcards: true,
  conn: UNLIMITED,
  leaf: UNLIMITED,
};

export function operatorJwt(operator: KeyPair, signingKey: KeyPair, systemAccount: string): string {
  return signClaims(operator, operator.getPublicKey(), 'fleet', {
    type: 'operator',
    version: 2,
    signing_keys: [signingKey.getPublicKey()],
    system_account: systemAccount,
  });
}

export function systemAccountJwt(signingKey: KeyPair, account: KeyPair): string {
  return signClaims(signingKey, account.getPublicKey(), SYSTEM_ACCOUNT, {
    type: 'account',
    version: 2,
    limits: { ...ACCOUNT_LIMITS, ...NO_JETSTREAM },
  });
}

/**
 * The gateway's account: JetStream, and every subject agents reach exported with `token_req`, so
 * an account imports one only with an activation this account signed for that account and for
 * that host's subject (agentActivations).
 */
export function gatewayAccountJwt(signingKey: KeyPair, account: KeyPair): string {
  const exports = agentExports().map((item) => ({ name: item.subject, subject: item.subject, type: item.kind, token_req: true }));
  return signClaims(signingKey, account.getPublicKey(), GATEWAY_ACCOUNT, {
    type: 'account',
    version: 2,
    exports,
    limits: { ...ACCOUNT_LIMITS, ...UNLIMITED_JETSTREAM },
  });
}

export interface AgentAccount {
  hostname: string;
  /** The account's public key. Its seed is never kept: the operator's signing key signs the account, the users' signer its users. */
  account: string;
  /** User public keys (or `*`: every user) revoked, with when (seconds): their connections are cut and refused. */
  revocations: Record<string, number>;
}

/**
 * `hostname`'s account: no JetStream, only the imports of nats-permissions, each carrying the
 * activation the gateway's account signed for this account and that subject, and `userSigner` as
 * the one key that may sign its users.
 */
export function agentAccountJwt(
  keys: { accountSigner: KeyPair; gatewayAccount: KeyPair; userSigner: KeyPair },
  agent: AgentAccount,
): string {
  const imports = agentImports(agent.hostname).map((item) => ({
    name: item.subject,
    subject: item.subject,
    account: keys.gatewayAccount.getPublicKey(),
    type: item.kind,
    ...(item.as ? { local_subject: item.as } : {}),
    token: signClaims(keys.gatewayAccount, agent.account, item.subject, {
      type: 'activation',
      version: 2,
      subject: item.subject,
      kind: item.kind,
    }),
  }));
  return signClaims(keys.accountSigner, agent.account, agentAccountName(agent.hostname), {
    type: 'account',
    version: 2,
    imports,
    signing_keys: [keys.userSigner.getPublicKey()],
    revocations: agent.revocations,
    limits: { ...ACCOUNT_LIMITS, ...NO_JETSTREAM },
  });
}

/** A user of `account` (signed by the account's own key) for `userPublicKey`, with subject permissions. */
export function userJwt(account: KeyPair, userPublicKey: string, name: string, permissions: SubjectPermissions): string {
  return signClaims(account, userPublicKey, name, userClaims(permissions));
}

/** `hostname`'s agent user for `userPublicKey`, signed by its account's users' signer, with the permissions of nats-permissions. */
export function agentUserJwt(userSigner: KeyPair, agent: Pick<AgentAccount, 'hostname' | 'account'>, userPublicKey: string): string {
  return signClaims(userSigner, userPublicKey, `agent-${agent.hostname}`, {
    ...userClaims(agentPermissions(agent.hostname)),
    issuer_account: agent.account,
  });
}

function userClaims(permissions: SubjectPermissions): Claims['nats'] {
  return {
    type: 'user',
    version: 2,
    pub: permissions.publish,
    sub: permissions.subscribe,
    subs: UNLIMITED,
    data: UNLIMITED,
    payload: UNLIMITED,
  };
}

function base64url(text: string): string {
  return Buffer.from(text).toString('base64url');
}
