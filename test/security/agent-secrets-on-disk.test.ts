/**
 * Finding 6: the local fleet's NATS config was mode 0644 in a 0755 directory with plaintext
 * passwords; a local `nobody` read it, logged in as the gateway and ran a container on db-01.
 * Now every secret is a 0600 file in 0700 directories and the config holds bcrypt hashes only,
 * in the fleet's own files (`fleet up`) and in `fleet nats-config`'s alike.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { connect } from '@nats-io/transport-node';
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
  const users = fleet.state.natsUsers;
  if (!users || !fleet.state.nats) throw new Error('the test fleet has no NATS of its own');
  return [fleet.state.nats.configFile, users.gateway.passwordFile, ...Object.values(users.agents).map((agent) => agent.passwordFile), fleet.state.jwtSecretFile];
}

function expectPrivate(files: string[], root: string): void {
  for (const file of files) {
    expect({ file, mode: modeOf(file).toString(8) }).toEqual({ file, mode: '600' });
    for (const dir of dirsUpTo(file, root)) expect({ dir, mode: modeOf(dir).toString(8) }).toEqual({ dir, mode: '700' });
  }
}

/** Each password file's password is nowhere in the config, which holds one bcrypt hash per user instead. */
function expectHashedOnly(configFile: string, passwordFiles: string[]): void {
  const config = readFileSync(configFile, 'utf8');
  for (const file of passwordFiles) expect(config).not.toContain(readFileSync(file, 'utf8').trim());
  expect(config.match(/"\$2a\$\d\d\$[./A-Za-z0-9]{53}"/g)).toHaveLength(passwordFiles.length);
}

attack("a local user (nobody) reads the fleet's NATS config, passwords, JWT secret: refused, and the config holds hashes only", async () => {
  expectPrivate(fleetSecrets(), fleet.dir);
  for (const file of fleetSecrets()) {
    const read = asNobody(['cat', file]);
    expect(read.code).not.toBe(0);
    expect(read.stdout).toBe('');
    expect(read.stderr).toMatch(/permission denied/i);
  }
  expect(asNobody(['ls', fleet.dir]).code).not.toBe(0);
  const users = fleet.state.natsUsers!;
  expectHashedOnly(fleet.state.nats!.configFile, [users.gateway.passwordFile, ...Object.values(users.agents).map((agent) => agent.passwordFile)]);
});

attack('whoever holds the config still cannot log in as the gateway with what it contains', async () => {
  const config = readFileSync(fleet.state.nats!.configFile, 'utf8');
  const gatewayEntry = config.slice(config.indexOf('"user": "gateway"'));
  const hash = /"password": "([^"]+)"/.exec(gatewayEntry)?.[1];
  expect(hash).toMatch(/^\$2a\$/);
  await expect(connect({ servers: fleet.natsUrl, user: 'gateway', pass: hash, maxReconnectAttempts: 0 })).rejects.toThrow(/authorization/i);
  // The password file's password does log in: the hash is the real one.
  const nc = await connect({ servers: fleet.natsUrl, user: 'gateway', pass: readFileSync(fleet.state.natsUsers!.gateway.passwordFile, 'utf8').trim() });
  await nc.close();
});

attack('a local user reads what `fleet nats-config` wrote (also over a 0644 config replaced with --force): refused, hashes only', async () => {
  const out = path.join(scratch, 'nats');
  const cli = (args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'apps/cli/src/main.ts', 'nats-config', '--agents', 'web-01,db-01', '--out', out, '--json', ...args], { encoding: 'utf8', timeout: 90_000 });
  const first = cli([]);
  expect(first.stderr).toBe('');
  expect(first.status).toBe(0);
  const configFile = path.join(out, 'nats-server.conf');
  // An operator's earlier, careless copy: readable by everyone.
  chmodSync(configFile, 0o644);
  writeFileSync(path.join(out, 'users', 'gateway.password'), 'old\n');
  chmodSync(path.join(out, 'users', 'gateway.password'), 0o644);
  const forced = cli(['--force']);
  expect(forced.status).toBe(0);
  const generated = JSON.parse(forced.stdout) as { configFile: string; users: { gateway: { passwordFile: string }; agents: Record<string, { passwordFile: string }> } };
  const passwordFiles = [generated.users.gateway.passwordFile, ...Object.values(generated.users.agents).map((agent) => agent.passwordFile)];
  expectPrivate([generated.configFile, ...passwordFiles], out);
  for (const file of [generated.configFile, ...passwordFiles]) expect(asNobody(['cat', file]).code).not.toBe(0);
  expect(asNobody(['ls', out]).code).not.toBe(0);
  expectHashedOnly(generated.configFile, passwordFiles);
  // nats-server takes the hashed config as it is.
  const check = spawnSync('nats-server', ['-t', '-c', generated.configFile], { encoding: 'utf8', timeout: 20_000 });
  expect(`${check.stdout}${check.stderr}`).toMatch(/configuration file .* is valid/i);
});
