/**
 * The real docker CLI through the gateway's Engine API proxy (`DOCKER_HOST=tcp://…/node/<host>/docker`,
 * the API key in a test DOCKER_CONFIG's HttpHeaders) on three real engines: every command's result
 * is checked on the engine directly, never only on the CLI's word. Permissions, key scopes and the
 * audit trail of the same calls; registry credentials that pass through and are kept nowhere.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BUSYBOX_IMAGE, freePort, type Registry, startRegistry, stopRegistry } from '@fleet/deploy';
import { api } from '../support/http';
import { type ProcessResult as CliResult, runProcess } from '../support/proc';
import { useScratchDir, useTestFleet } from '../support/suite';

jest.setTimeout(300_000);
const fleet = useTestFleet();
const scratch = useScratchDir('/tmp/flt-cli-');

interface CliOptions {
  /** Piped to the CLI's stdin (then closed); without it stdin is closed at once. */
  stdin?: string;
  /** Registry logins written into the config's `auths`. */
  auths?: Record<string, { username: string; password: string }>;
  /** A DOCKER_CONFIG directory made earlier (kept across calls, e.g. for `docker login`); default a new one. */
  configDir?: string;
  timeoutMs?: number;
}

let configs = 0;

/** A DOCKER_CONFIG directory holding `config.json` with the API key in HttpHeaders (README "The docker CLI through the gateway"). */
function dockerConfig(key: string, auths: CliOptions['auths'] = {}): string {
  const dir = join(scratch(), `config-${++configs}`);
  mkdirSync(dir, { recursive: true });
  const config = {
    HttpHeaders: { Authorization: `Bearer ${key}` },
    auths: Object.fromEntries(
      Object.entries(auths).map(([server, login]) => [
        server,
        { auth: Buffer.from(`${login.username}:${login.password}`).toString('base64') },
      ]),
    ),
  };
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  return dir;
}

/** The CLI's environment: DOCKER_HOST at the gateway's proxy for `host`, DOCKER_CONFIG with the key. */
function cliEnv(host: string, key: string, opts: CliOptions = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: scratch(),
    DOCKER_HOST: `tcp://${new URL(fleet.url).host}/node/${host}/docker`,
    DOCKER_CONFIG: opts.configDir ?? dockerConfig(key, opts.auths),
  };
}

/** Polls `check` (bounded: 15 s) until it holds. */
async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 150; i++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Runs the real `docker` binary against `host` through the gateway, bounded by a timeout. */
function docker(host: string, key: string, args: string[], opts: CliOptions = {}): Promise<CliResult> {
  return runProcess('docker', args, {
    env: cliEnv(host, key, opts),
    stdin: opts.stdin ?? '',
    timeoutMs: opts.timeoutMs ?? 60_000,
    onTimeout: 'reject',
  });
}

const admin = () => fleet.adminKey;

async function containerOn(host: string, name: string): Promise<{ Running: boolean; ExitCode: number; Id: string } | undefined> {
  try {
    const info = await fleet.docker(host).getContainer(name).inspect();
    return { Running: info.State.Running, ExitCode: info.State.ExitCode, Id: info.Id };
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return undefined;
    throw err;
  }
}

/** Runs a command in a container on the engine directly (not through the gateway) and returns its output. */
async function engineExec(host: string, container: string, cmd: string[]): Promise<string> {
  const exec = await fleet.docker(host).getContainer(container).exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true, Tty: true });
  const stream = await exec.start({ hijack: true, stdin: false, Tty: true });
  let out = '';
  for await (const chunk of stream) out += (chunk as Buffer).toString();
  return out;
}

/** Every audited call of `caller`, newest first, as `METHOD path status` (all pages, bounded). */
async function auditedCalls(caller: string): Promise<string[]> {
  const calls: string[] = [];
  let cursor = '';
  for (let page = 0; page < 20; page++) {
    const res = await api(fleet, 'GET', `/audit?caller=${caller}&limit=200${cursor}`);
    expect(res.status).toBe(200);
    for (const entry of res.body.entries as Array<{ method: string; path: string; status: number }>)
      calls.push(`${entry.method} ${entry.path} ${entry.status}`);
    if (!res.body.next_cursor) return calls;
    cursor = `&cursor=${encodeURIComponent(res.body.next_cursor as string)}`;
  }
  throw new Error(`more than 20 pages of audit entries for ${caller}`);
}

describe('the docker CLI on one host through the gateway', () => {
  const operator = () => fleet.mintKey('operator', { subject: 'cli-operator' });
  /** `docker run -d --name <name> busybox sh -c <script>` as an operator. */
  const runShellDetached = (host: string, name: string, script: string) =>
    docker(host, operator(), ['run', '-d', '--name', name, BUSYBOX_IMAGE, 'sh', '-c', script]);

  it('docker version reports the engine behind the gateway, negotiated from _ping', async () => {
    const { Version, ApiVersion } = await fleet.docker('web-01').version();
    const result = await docker('web-01', operator(), ['version', '--format', '{{.Server.Version}} {{.Server.APIVersion}}']);
    expect(result).toMatchObject({ code: 0 });
    expect(result.stdout.trim()).toBe(`${Version} ${ApiVersion}`);
  });

  it('docker run -d starts a container on that host only; ps -a lists what the engine lists', async () => {
    const run = await docker('web-01', operator(), ['run', '-d', '--name', 'cli-main', BUSYBOX_IMAGE, 'sleep', '600']);
    expect(run.code).toBe(0);
    const created = await containerOn('web-01', 'cli-main');
    expect(created).toMatchObject({ Running: true, Id: run.stdout.trim() });
    expect(await containerOn('web-02', 'cli-main')).toBeUndefined();
    expect(await containerOn('db-01', 'cli-main')).toBeUndefined();

    const ps = await docker('web-01', operator(), ['ps', '-a', '--no-trunc', '--format', '{{.ID}}']);
    expect(ps.code).toBe(0);
    const onEngine = (await fleet.docker('web-01').listContainers({ all: true })).map((container) => container.Id).sort();
    expect(ps.stdout.trim().split('\n').sort()).toEqual(onEngine);
  });

  it('docker exec without stdin: output of both streams and the exit code, after the CLI half-closed', async () => {
    const result = await docker('web-01', operator(), ['exec', 'cli-main', 'sh', '-c', 'sleep 1; echo out; echo err >&2; exit 3']);
    expect(result).toEqual({ code: 3, stdout: 'out\n', stderr: 'err\n' });
  });

  it('docker exec -i: stdin piped in reaches the process, its output and exit code come back', async () => {
    const input = Array.from({ length: 2000 }, (_, i) => `line ${i}`).join('\n');
    const result = await docker(
      'web-01',
      operator(),
      ['exec', '-i', 'cli-main', 'sh', '-c', 'cat > /tmp/stdin.txt; wc -l < /tmp/stdin.txt; exit 4'],
      { stdin: `${input}\n` },
    );
    expect(result).toMatchObject({ code: 4, stdout: '2000\n' });
    expect(await engineExec('web-01', 'cli-main', ['md5sum', '/tmp/stdin.txt'])).toContain(
      createHash('md5').update(`${input}\n`).digest('hex'),
    );
  });

  it('docker run without -d attaches (a hijacked stream) and exits with the container', async () => {
    const result = await docker('web-02', operator(), ['run', '--name', 'cli-fg', BUSYBOX_IMAGE, 'sh', '-c', 'echo foreground; exit 5']);
    expect(result).toMatchObject({ code: 5, stdout: 'foreground\n' });
    expect(await containerOn('web-02', 'cli-fg')).toMatchObject({ Running: false, ExitCode: 5 });
  });

  it('docker logs -f follows the output and ends when the container stops', async () => {
    const run = await runShellDetached('web-02', 'cli-logs', 'for i in 1 2 3 4; do echo tick $i; sleep 1; done');
    expect(run.code).toBe(0);
    const started = Date.now();
    const logs = await docker('web-02', operator(), ['logs', '-f', 'cli-logs']);
    expect(logs).toMatchObject({ code: 0, stdout: 'tick 1\ntick 2\ntick 3\ntick 4\n' });
    // It followed: it only ended once the container had run its ~4 s, and the engine has it stopped.
    expect(Date.now() - started).toBeGreaterThan(2_000);
    expect(await containerOn('web-02', 'cli-logs')).toMatchObject({ Running: false, ExitCode: 0 });
  });

  it("a quiet stream outlives the tunnel's silence limit: logs -f and exec that say nothing for 26 s still end right", async () => {
    const run = await runShellDetached('db-01', 'cli-quiet', 'sleep 26; echo late log; sleep 600');
    expect(run.code).toBe(0);
    const follow = spawn('docker', ['logs', '-f', 'cli-quiet'], { env: cliEnv('db-01', operator()), stdio: ['ignore', 'pipe', 'pipe'] });
    let followed = '';
    follow.stdout.on('data', (chunk: Buffer) => (followed += chunk.toString()));
    const followEnded = new Promise<number | null>((resolve) => follow.once('close', resolve));
    try {
      const exec = await docker('db-01', operator(), ['exec', 'cli-quiet', 'sh', '-c', 'sleep 26; echo late exec; exit 7'], {
        timeoutMs: 60_000,
      });
      expect(exec).toMatchObject({ code: 7, stdout: 'late exec\n' });
      await until(async () => followed.includes('late log'), 'the late log line to come through the quiet logs -f');
      expect(follow.exitCode).toBeNull();
      await fleet.docker('db-01').getContainer('cli-quiet').kill();
      expect(await followEnded).toBe(0);
    } finally {
      follow.kill('SIGKILL');
    }
    expect(followed).toBe('late log\n');
  });

  it('docker cp copies a file into the container and one out of it', async () => {
    const local = join(scratch(), 'into.txt');
    const content = `copied in ${Date.now()}\n${'x'.repeat(200_000)}\n`;
    writeFileSync(local, content);
    const cpIn = await docker('web-01', operator(), ['cp', local, 'cli-main:/tmp/into.txt']);
    expect(cpIn.code).toBe(0);
    expect(await engineExec('web-01', 'cli-main', ['wc', '-c', '/tmp/into.txt'])).toContain(String(Buffer.byteLength(content)));

    await engineExec('web-01', 'cli-main', ['sh', '-c', 'echo made on the engine > /tmp/out.txt']);
    const outDir = join(scratch(), 'out');
    mkdirSync(outDir);
    const cpOut = await docker('web-01', operator(), ['cp', 'cli-main:/tmp/out.txt', outDir]);
    expect(cpOut.code).toBe(0);
    expect(readFileSync(join(outDir, 'out.txt'), 'utf8')).toBe('made on the engine\n');
  });

  it('docker events streams what happens on the engine, and a bounded one ends by itself', async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    const tagged = await fleet.docker('db-01').getImage(BUSYBOX_IMAGE).tag({ repo: 'local/events-probe', tag: 'v1' });
    expect(tagged).toBeDefined();
    const until = Math.floor(Date.now() / 1000) + 1;
    const result = await docker('db-01', operator(), [
      'events',
      '--since',
      String(since),
      '--until',
      String(until),
      '--filter',
      'type=image',
      '--format',
      '{{.Action}} {{.Actor.ID}}',
    ]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^tag sha256:[0-9a-f]{64}$/m);
  });

  it('docker events streams while it is open; once the CLI is killed the engine ends its side too', async () => {
    const engine = fleet.docker('db-01');
    const listeners = async () => (await engine.info()).NEventsListener as number;
    const before = await listeners();
    const env = cliEnv('db-01', operator());
    const child = spawn('docker', ['events', '--filter', 'type=image', '--format', '{{.Action}} {{.Actor.Attributes.name}}'], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const closed = new Promise((resolve) => child.once('close', resolve));
    try {
      await until(async () => (await listeners()) === before + 1, 'the engine to hear the proxied events request');
      await engine.getImage(BUSYBOX_IMAGE).tag({ repo: 'local/events-live', tag: 'v1' });
      await until(async () => stdout.includes('tag local/events-live:v1'), 'the tag event to reach the CLI');
    } finally {
      child.kill('SIGKILL');
      await closed;
    }
    await until(async () => (await listeners()) === before, 'the engine to drop the events request of the killed CLI');
  });

  it('docker pull from a registry behind htpasswd, with the credential from the CLI config, kept nowhere', async () => {
    const password = `pw-${Math.random().toString(36).slice(2)}-secret`;
    const registry: Registry = await startRegistry({
      dir: join(scratch(), 'registry'),
      port: await freePort(),
      htpasswd: { user: 'fleet', password },
    });
    try {
      const remote = `${registry.address}/cli-busybox`;
      const web1 = fleet.docker('web-01');
      await web1.getImage(BUSYBOX_IMAGE).tag({ repo: remote, tag: 'v1' });
      const push = (await web1
        .getImage(`${remote}:v1`)
        .push({ authconfig: { username: 'fleet', password, serveraddress: registry.address } })) as NodeJS.ReadableStream;
      for await (const chunk of push) expect(chunk.toString()).not.toContain('"error"');

      const denied = await docker('web-02', operator(), ['pull', `${remote}:v1`]);
      expect(denied.code).not.toBe(0);
      expect(denied.stderr).toMatch(/no basic auth credentials|unauthorized|authentication required/i);

      const pulled = await docker('web-02', operator(), ['pull', `${remote}:v1`], {
        auths: { [registry.address]: { username: 'fleet', password } },
      });
      expect(pulled).toMatchObject({ code: 0, stdout: expect.stringContaining(`Downloaded newer image for ${remote}:v1`) });
      const image = await fleet.docker('web-02').getImage(`${remote}:v1`).inspect();
      expect(image.Id).toBe((await web1.getImage(`${remote}:v1`).inspect()).Id);

      // `docker login` checks the password through the engine (POST /auth) and keeps it in the CLI's config only.
      const loginConfig = dockerConfig(operator());
      const login = await docker('db-01', operator(), ['login', '--username', 'fleet', '--password-stdin', registry.address], {
        stdin: password,
        configDir: loginConfig,
      });
      expect(login).toMatchObject({ code: 0, stdout: expect.stringContaining('Login Succeeded') });
      const afterLogin = await docker('db-01', operator(), ['pull', `${remote}:v1`], { configDir: loginConfig });
      expect(afterLogin.code).toBe(0);
      expect((await fleet.docker('db-01').getImage(`${remote}:v1`).inspect()).Id).toBe(image.Id);

      const auditText = JSON.stringify((await api(fleet, 'GET', '/audit?limit=200')).body);
      for (const place of [fleet.log('gateway'), fleet.log('agent-web-02'), fleet.log('agent-db-01'), auditText])
        expect(place).not.toContain(password);
    } finally {
      await stopRegistry(registry);
    }
  });

  it('docker save on one host and docker load on another move an image, tar streamed both ways', async () => {
    const source = fleet.docker('web-01');
    await source.getImage(BUSYBOX_IMAGE).tag({ repo: 'local/carried', tag: 'v1' });
    const archive = join(scratch(), 'carried.tar');
    const saved = await docker('web-01', operator(), ['save', '-o', archive, 'local/carried:v1']);
    expect(saved.code).toBe(0);
    expect(statSync(archive).size).toBeGreaterThan(1024 * 1024);
    const loaded = await docker('db-01', operator(), ['load', '-i', archive]);
    expect(loaded).toMatchObject({ code: 0, stdout: expect.stringContaining('local/carried:v1') });
    expect((await fleet.docker('db-01').getImage('local/carried:v1').inspect()).Id).toBe(
      (await source.getImage('local/carried:v1').inspect()).Id,
    );
  });

  it('docker rm -f removes the container on the engine', async () => {
    const result = await docker('web-01', operator(), ['rm', '-f', 'cli-main']);
    expect(result.code).toBe(0);
    expect(await containerOn('web-01', 'cli-main')).toBeUndefined();
  });

  it('the audit lists every call with its Engine method and path', async () => {
    const calls = await auditedCalls('cli-operator');
    expect(calls).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^(HEAD|GET) \/node\/web-01\/docker\/_ping 200$/),
        expect.stringMatching(/^GET \/node\/web-01\/docker\/v1\.\d+\/version 200$/),
        expect.stringMatching(/^POST \/node\/web-01\/docker\/v1\.\d+\/containers\/create 201$/),
        expect.stringMatching(/^POST \/node\/web-01\/docker\/v1\.\d+\/containers\/[0-9a-f]{64}\/start 204$/),
        expect.stringMatching(/^POST \/node\/web-01\/docker\/v1\.\d+\/containers\/cli-main\/exec 201$/),
        expect.stringMatching(/^POST \/node\/web-01\/docker\/v1\.\d+\/exec\/[0-9a-f]{64}\/start 101$/),
        expect.stringMatching(/^GET \/node\/web-01\/docker\/v1\.\d+\/exec\/[0-9a-f]{64}\/json 200$/),
        expect.stringMatching(/^POST \/node\/web-02\/docker\/v1\.\d+\/containers\/[0-9a-f]{64}\/attach 101$/),
        expect.stringMatching(/^GET \/node\/web-02\/docker\/v1\.\d+\/containers\/[0-9a-f]{64}\/logs 200$/),
        expect.stringMatching(/^PUT \/node\/web-01\/docker\/v1\.\d+\/containers\/cli-main\/archive 200$/),
        expect.stringMatching(/^GET \/node\/web-01\/docker\/v1\.\d+\/containers\/cli-main\/archive 200$/),
        expect.stringMatching(/^POST \/node\/web-02\/docker\/v1\.\d+\/images\/create 200$/),
        expect.stringMatching(/^GET \/node\/db-01\/docker\/v1\.\d+\/events 200$/),
        expect.stringMatching(/^DELETE \/node\/web-01\/docker\/v1\.\d+\/containers\/cli-main 204$/),
      ]),
    );
  });
});

describe('who may do what through the proxy', () => {
  beforeAll(async () => {
    await fleet
      .docker('web-01')
      .createContainer({ Image: BUSYBOX_IMAGE, name: 'cli-target', Cmd: ['sleep', '600'] })
      .then((container) => container.start());
  });

  it('a viewer key reads, but run, exec and rm get the permission error and the engine is unchanged', async () => {
    const viewer = fleet.mintKey('viewer', { subject: 'cli-viewer' });
    const ps = await docker('web-01', viewer, ['ps', '--format', '{{.Names}}']);
    expect(ps.code).toBe(0);
    expect(ps.stdout).toContain('cli-target');

    const run = await docker('web-01', viewer, ['run', '-d', '--name', 'cli-viewer-run', BUSYBOX_IMAGE, 'sleep', '60']);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain("requires permission 'docker:write'");
    expect(await containerOn('web-01', 'cli-viewer-run')).toBeUndefined();

    const exec = await docker('web-01', viewer, ['exec', 'cli-target', 'touch', '/tmp/viewer-was-here']);
    expect(exec.code).not.toBe(0);
    expect(exec.stderr).toContain("requires permission 'docker:exec'");
    expect(await engineExec('web-01', 'cli-target', ['sh', '-c', 'ls /tmp/viewer-was-here 2>&1 || true'])).toContain('No such file');

    const rm = await docker('web-01', viewer, ['rm', '-f', 'cli-target']);
    expect(rm.code).not.toBe(0);
    expect(rm.stderr).toContain("requires permission 'docker:write'");
    expect(await containerOn('web-01', 'cli-target')).toMatchObject({ Running: true });

    const refused = await auditedCalls('cli-viewer');
    expect(refused).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^POST \/node\/web-01\/docker\/v1\.\d+\/containers\/create 403$/),
        expect.stringMatching(/^DELETE \/node\/web-01\/docker\/v1\.\d+\/containers\/cli-target 403$/),
      ]),
    );
  });

  it("a host bind needs docker:host: an operator gets the CLI's permission error, an admin runs it under the gateway's grant", async () => {
    const bound = join(scratch(), 'bound');
    mkdirSync(bound);
    const args = ['run', '-d', '-v', `${bound}:/data`, BUSYBOX_IMAGE, 'sh', '-c', 'echo written through the bind > /data/proof; sleep 600'];
    const operator = fleet.mintKey('operator', { subject: 'cli-operator' });
    const refused = await docker('web-02', operator, ['run', '--name', 'cli-bind-operator', ...args.slice(1)]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain("requires permission 'docker:host'");
    expect(await containerOn('web-02', 'cli-bind-operator')).toBeUndefined();

    const granted = await docker('web-02', fleet.adminKey, ['run', '--name', 'cli-bind-admin', ...args.slice(1)]);
    expect(granted.code).toBe(0);
    expect(await containerOn('web-02', 'cli-bind-admin')).toMatchObject({ Running: true });
    await until(async () => existsSync(join(bound, 'proof')), 'the container to write through its bind');
    await fleet.docker('web-02').getContainer('cli-bind-admin').remove({ force: true });
  });

  it('a key scoped to role:web reaches web-01 but not the db host, whose engine is unchanged', async () => {
    const webOnly = fleet.mintKey('operator', { subject: 'cli-web-scope', scope: 'role:web' });
    expect((await docker('web-01', webOnly, ['ps'])).code).toBe(0);
    const before = (await fleet.docker('db-01').listContainers({ all: true })).length;
    const ps = await docker('db-01', webOnly, ['ps']);
    expect(ps.code).not.toBe(0);
    expect(ps.stderr).toContain("no host of this key's scope 'role:web' matches this target");
    const run = await docker('db-01', webOnly, ['run', '-d', '--name', 'cli-scope-escape', BUSYBOX_IMAGE, 'sleep', '60']);
    expect(run.code).not.toBe(0);
    expect(await containerOn('db-01', 'cli-scope-escape')).toBeUndefined();
    expect((await fleet.docker('db-01').listContainers({ all: true })).length).toBe(before);
  });

  it('a multi-host target is a 400 saying the proxy speaks to exactly one engine', async () => {
    for (const target of ['_all', '_any', 'role:web']) {
      const result = await docker(target, fleet.adminKey, ['ps']);
      expect(result.code).not.toBe(0);
      expect(result.stderr).toContain('exactly one engine');
    }
  });

  it('an Engine endpoint the contract does not map is 404 with the envelope, never forwarded', async () => {
    const res = await fetch(`${fleet.url}/node/web-01/docker/v1.41/swarm/init`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin()}`, 'content-type': 'application/json' },
      body: '{}',
    });
    expect(res.status).toBe(404);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      code: 404,
      reason: 'not_found',
      error: 'not found',
      details: expect.stringContaining('/v1.41/swarm/init'),
    });
    expect((await fleet.docker('web-01').info()).Swarm.LocalNodeState).toBe('inactive');
  });
});
