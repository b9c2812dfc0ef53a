import { agentImports } from '@fleet/contracts/nats-permissions';
import {
  agentAccountJwt,
  agentUserJwt,
  credsFileContent,
  newAccountKey,
  newOperatorKey,
  newUserKey,
  signClaims,
  userJwtOfCreds,
  verifiedClaims,
} from './nats-identity';

const keys = { accountSigner: newOperatorKey(), gatewayAccount: newAccountKey(), userSigner: newAccountKey() };
const account = newAccountKey().getPublicKey();

describe('NATS JWTs', () => {
  it("signs an agent's account with one activation per import, each for that account and that subject, signed by the gateway's account", () => {
    const claims = verifiedClaims(agentAccountJwt(keys, { hostname: 'web-01', account, revocations: {} }));
    expect(claims).toMatchObject({ iss: keys.accountSigner.getPublicKey(), sub: account, name: 'AGENT_web-01' });
    const imports = claims.nats.imports as { subject: string; token: string; account: string }[];
    expect(imports.map((item) => item.subject)).toEqual(agentImports('web-01').map((item) => item.subject));
    for (const item of imports) {
      const activation = verifiedClaims(item.token);
      expect(activation).toMatchObject({
        iss: keys.gatewayAccount.getPublicKey(),
        sub: account,
        nats: { type: 'activation', subject: item.subject },
      });
      expect(item.account).toBe(keys.gatewayAccount.getPublicKey());
    }
    expect(claims.nats.signing_keys).toEqual([keys.userSigner.getPublicKey()]);
    expect(claims.nats.limits).toMatchObject({ disk_storage: 0, mem_storage: 0 });
  });

  it("issues an agent's user for the public key it sent, in its account, signed by the users' signer", () => {
    const user = newUserKey();
    const claims = verifiedClaims(agentUserJwt(keys.userSigner, { hostname: 'web-01', account }, user.getPublicKey()));
    expect(claims).toMatchObject({
      iss: keys.userSigner.getPublicKey(),
      sub: user.getPublicKey(),
      nats: { type: 'user', issuer_account: account },
    });
  });

  it('refuses a JWT whose claims were changed after signing, or signed by another key than its issuer', () => {
    const jwt = signClaims(keys.userSigner, newUserKey().getPublicKey(), 'agent-web-01', { type: 'user', version: 2 });
    const [header, payload, signature] = jwt.split('.');
    const changed = Buffer.from(
      JSON.stringify({ ...JSON.parse(Buffer.from(payload, 'base64url').toString()), name: 'agent-web-02' }),
    ).toString('base64url');
    expect(() => verifiedClaims(`${header}.${changed}.${signature}`)).toThrow('bad JWT signature');
    const foreign = signClaims(newAccountKey(), 'U', 'x', { type: 'user', version: 2 }).split('.');
    expect(() => verifiedClaims(`${header}.${payload}.${foreign[2]}`)).toThrow('bad JWT signature');
  });

  it('writes a creds file the user JWT can be read back from', () => {
    const user = newUserKey();
    const jwt = agentUserJwt(keys.userSigner, { hostname: 'web-01', account }, user.getPublicKey());
    const creds = credsFileContent(jwt, user.getSeed());
    expect(userJwtOfCreds(creds)).toBe(jwt);
    expect(creds).toContain(Buffer.from(user.getSeed()).toString());
  });
});
