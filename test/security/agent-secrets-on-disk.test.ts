/**
 * Finding 6: the local fleet's NATS config was mode 0644 in a 0755 directory with plaintext
 * passwords; a local `nobody` read it, logged in as the gateway and ran a container on db-01.
 * Now every secret is a 0600 file in 0700 directories and the config holds no secret at all
 * (operator mode: JWTs and public keys), in the fleet's own files (`fleet up`) and in
 * `fleet nats-config`'s alike.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { connect, jwtAuthenticator } from '@nats-io/transport-node';
import { agentCredsFile, type GeneratedNatsConfig, type NatsOperator } from '@fleet/deploy';
import { natsLogin } from '@fleet/runtime/nats';
import { newUserKey, userJwtOfCreds } from '@fleet/runtime/nats-identity';
import { attack } from '../support/attacks';
import { useTestFleet } from '../support/suite';

const fleet = useTestFleet({ agents: [{ hostname: 'db-01', labels: { role: 'db' } }] });
let scratch: string;

beforeAll(() => {
  // World-traversable, like /etc/fleet or a checkout: only the files' own modes may protect them.
  scratch = mkdtempSync('/tmp/g1-secrets-');
  chmodSync(scratch, 0o755);
});

afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
});

function modeOf(file: string): number {
  return statSync(file).mode & 0o777;
}

/** Runs `command` as the local user nobody. */
function asNobody(command: string[]): { code: number | null; stdout: string; stderr: string } {
  const result = spawnSync('runuser', ['-u', 'nobody', '--', ...command], { encoding: 'utf8', timeout: 10_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Every directory from `file`'s up to (and including) `root`. */
function dirsUpTo(file: string, root: string): string[] {
  const dirs = [];
  for (let dir = path.dirname(file); dir.startsWith(root); dir = path.dirname(dir)) dirs.push(dir);
  return dirs;
}

function fleetSecrets(): string[] {
  const operator = fleet.state.natsOperator;
  if (!operator || !fleet.state.nats) throw new Error('the test fleet has no NATS of its own');
  return [fleet.state.nats.configFile, ...operatorSecrets(operator), agentCredsFile(fleet.state, 'db-01'), fleet.state.jwtSecretFile];
}

function operatorSecrets(operator: NatsOperator): string[] {
  return [
    operator.gatewayCredsFile,
    operator.systemCredsFile,
    operator.accountSignerFile,
    operator.gatewayAccountSeedFile,
    operator.agentUserSignerFile,
  ];
}

function expectPrivate(files: string[], root: string): void {
  for (const file of files) {
    expect({ file, mode: modeOf(file).toString(8) }).toEqual({ file, mode: '600' });
    for (const dir of dirsUpTo(file, root)) expect({ dir, mode: modeOf(dir).toString(8) }).toEqual({ dir, mode: '700' });
  }
}

/** The config holds JWTs and public keys only: no NKey seed (user, account or operator), no password. */
function expectNoSecretIn(configFile: string): void {
  const config = readFileSync(configFile, 'utf8');
  expect(config).not.toMatch(/S[UAO][A-Z2-7]{56}/);
  expect(config).not.toMatch(/password:|NKEY SEED/i);
  expect(config).toMatch(/^operator: "eyJ/m);
}

attack(
  "a local user (nobody) reads the fleet's NATS config, its keys and creds, the agent's creds, the JWT secret: refused, and the config holds no secret",
  async () => {
    expectPrivate(fleetSecrets(), fleet.dir);
    for (const file of fleetSecrets()) {
      const read = asNobody(['cat', file]);
      expect(read.code).not.toBe(0);
      expect(read.stdout).toBe('');
      expect(read.stderr).toMatch(/permission denied/i);
    }
    expect(asNobody(['ls', fleet.dir]).code).not.toBe(0);
    expectNoSecretIn(fleet.state.nats!.configFile);
  },
);

attack(
  "whoever holds the gateway's user JWT (public: it crosses the wire) still cannot log in as the gateway without its seed",
  async () => {
    const operator = fleet.state.natsOperator!;
    const gatewayJwt = userJwtOfCreds(readFileSync(operator.gatewayCredsFile, 'utf8'));
    const otherSeed = newUserKey().getSeed();
    await expect(
      connect({ servers: fleet.natsUrl, authenticator: jwtAuthenticator(gatewayJwt, otherSeed), maxReconnectAttempts: 0 }),
    ).rejects.toThrow(/authorization/i);
    // The creds file's own seed does log in: the JWT is the real one.
    const nc = await connect({ servers: fleet.natsUrl, ...natsLogin(readFileSync(operator.gatewayCredsFile, 'utf8')) });
    await nc.close();
  },
);

attack(
  'a local user reads what `fleet nats-config` wrote (also over a 0644 config and seed replaced with --force): refused, no secret in ' +
    'the config',
  async () => {
    const out = path.join(scratch, 'nats');
    const cli = (args: string[]) =>
      spawnSync(process.execPath, ['--import', 'tsx', 'apps/cli/src/main.ts', 'nats-config', '--out', out, '--json', ...args], {
        encoding: 'utf8',
        timeout: 90_000,
      });
    const first = cli([]);
    expect(first.stderr).toBe('');
    expect(first.status).toBe(0);
    const configFile = path.join(out, 'nats-server.conf');
    // An operator's earlier, careless copies: readable by everyone.
    chmodSync(configFile, 0o644);
    chmodSync(path.join(out, 'operator', 'gateway.creds'), 0o644);
    const forced = cli(['--force']);
    expect(forced.status).toBe(0);
    const generated = JSON.parse(forced.stdout) as GeneratedNatsConfig;
    const files = [generated.configFile, ...operatorSecrets(generated.operator)];
    expectPrivate(files, out);
    for (const file of files) expect(asNobody(['cat', file]).code).not.toBe(0);
    expect(asNobody(['ls', out]).code).not.toBe(0);
    expectNoSecretIn(generated.configFile);
    const check = spawnSync('nats-server', ['-t', '-c', generated.configFile], { encoding: 'utf8', timeout: 20_000 });
    expect(`${check.stdout}${check.stderr}`).toMatch(/configuration file .* is valid/i);
  },
);
