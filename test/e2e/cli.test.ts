/**
 * The `fleet` CLI end to end: the real command (the `fleet` bin,
 * apps/cli/bin/fleet.js, running the compiled dist/fleet.js as `npm run fleet`
 * and a pipeline run it) in a child process against a real fleet (NATS, three dockerd engines, gateway,
 * agents). Output is compared with the REST answers and engine state is
 * checked on the engines; exit codes are the documented ones.
 */
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createFleetClient, type FleetClient, UnauthorizedError } from '@fleet/sdk';
import { freePort, type Registry, startRegistry, stopRegistry } from '@fleet/deploy';
import { startTestFleet, type TestFleet } from '../support/fleet';
import { api } from '../support/http';
import { type ProcessResult, runProcess } from '../support/proc';

const REPO = resolve(__dirname, '../..');
const CLI = ['apps/cli/bin/fleet.js'];
const IMAGE = 'local/busybox:latest';
const HOSTS = ['db-01', 'web-01', 'web-02'];
const LABELS = { 'fleet.test': 'cli' };
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

let fleet: TestFleet;
let sdk: FleetClient;
let home: string;

beforeAll(async () => {
  fleet = await startTestFleet();
  sdk = createFleetClient({ url: fleet.url, apiKey: fleet.adminKey });
  home = mkdtempSync('/tmp/flt-cli-home-');
});

afterAll(async () => {
  await fleet?.stop();
  if (home) rmSync(home, { recursive: true, force: true });
});

type CliResult = ProcessResult;

interface CliOptions {
  /** FLEET_API_KEY; default the admin key, null for none. */
  key?: string | null;
  env?: Record<string, string>;
  /** Run under a pseudo-terminal (util-linux `script`), so stdout is a TTY. */
  tty?: boolean;
}

/** An environment without the caller's FLEET_* settings and with a private HOME (no stray config file). */
function cliEnv(opts: CliOptions): NodeJS.ProcessEnv {
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('FLEET_')));
  const key = opts.key === undefined ? fleet.adminKey : opts.key;
  return {
    ...inherited,
    HOME: home,
    XDG_CONFIG_HOME: join(home, '.config'),
    FLEET_URL: fleet.url,
    ...(key === null ? {} : { FLEET_API_KEY: key }),
    ...opts.env,
  };
}

function shellQuote(arg: string): string {
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** Runs `fleet <args>` to its end; never rejects on a non-zero exit (that is what the tests look at). */
function fleetCli(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  const [command, argv] = opts.tty
    ? ['script', ['-qec', [process.execPath, ...CLI, ...args].map(shellQuote).join(' '), '/dev/null']]
    : [process.execPath, [...CLI, ...args]];
  return runProcess(command, argv, { cwd: REPO, env: cliEnv(opts), timeoutMs: 110_000, onTimeout: 'kill' });
}

/** Rows without what differs between two calls of the same read (the job's timing). */
function comparable(rows: Array<Record<string, unknown>>): Array<Record<string, unknown>> {
  return rows.map(({ duration_ms: _duration, ...row }) => row);
}

function jtiOf(key: string): string {
  return JSON.parse(Buffer.from(key.split('.')[1], 'base64url').toString('utf8')).jti;
}

describe('fleet container ls', () => {
  beforeAll(async () => {
    // Created, never started: their listing does not change between two calls.
    const created = await sdk.node('_all').containers.create({ image: IMAGE, name: 'cli-idle', cmd: ['sleep', '300'], labels: LABELS });
    expect(created.results.map((row) => row.status)).toEqual(['ok', 'ok', 'ok']);
  });

  it('--json prints the REST response: the same rows under a job id of its own, exit 0', async () => {
    const cli = await fleetCli(['container', 'ls', '--target', '_all', '--all', '--json']);
    expect(cli.stderr).toBe('');
    expect(cli.code).toBe(0);
    const printed = JSON.parse(cli.stdout);
    const rest = await api(fleet, 'GET', '/node/_all/container/docker?all=true');
    expect(rest.status).toBe(200);
    expect(Object.keys(printed).sort()).toEqual(['job_id', 'results']);
    expect(printed.job_id).toMatch(UUID);
    expect(printed.job_id).not.toBe(rest.body.job_id);
    expect(comparable(printed.results)).toEqual(comparable(rest.body.results));
    expect(printed.results.map((row: { hostname: string }) => row.hostname)).toEqual(HOSTS);
  });

  it('prints a table by default: one line per container, with its host', async () => {
    const cli = await fleetCli(['container', 'ls', '--target', 'role:web', '--all', '--filters', '{"label":["fleet.test=cli"]}']);
    expect(cli.code).toBe(0);
    const lines = cli.stdout.trimEnd().split('\n');
    expect(lines[0].split(/\s{2,}/)).toEqual(['HOST', 'CONTAINER ID', 'NAMES', 'IMAGE', 'STATE', 'STATUS']);
    expect(lines.slice(1).map((line) => line.split(/\s{2,}/))).toEqual([
      ['web-01', expect.stringMatching(/^[0-9a-f]{12}$/), 'cli-idle', IMAGE, 'created', 'Created'],
      ['web-02', expect.stringMatching(/^[0-9a-f]{12}$/), 'cli-idle', IMAGE, 'created', 'Created'],
    ]);
  });
});

describe('exit codes', () => {
  it('exits 1 on a partial failure, showing which host failed; the other host really ran it', async () => {
    await sdk.node('web-01').containers.create({ image: IMAGE, name: 'cli-only-web01', cmd: ['sleep', '300'], labels: LABELS });
    const cli = await fleetCli(['container', 'start', 'cli-only-web01', '--target', 'role:web']);
    expect(cli.code).toBe(1);
    const rows = cli.stdout
      .trimEnd()
      .split('\n')
      .slice(1)
      .map((line) => line.split(/\s{2,}/));
    expect(rows).toEqual([
      ['web-01', 'ok', 'yes', 'container started'],
      ['web-02', 'failed', 'no', expect.stringMatching(/No such container: cli-only-web01 \(404\)/)],
    ]);
    expect((await fleet.docker('web-01').getContainer('cli-only-web01').inspect()).State.Running).toBe(true);

    const again = await fleetCli(['container', 'start', 'cli-only-web01', '--target', 'web-01', '--json']);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout).results).toEqual([expect.objectContaining({ hostname: 'web-01', status: 'ok', changed: false })]);
  });

  it('exits 3 for a bad key (401) and for a missing permission (403)', async () => {
    const bad = await fleetCli(['container', 'ls', '--target', '_all'], { key: 'not-a-key' });
    expect(bad.code).toBe(3);
    expect(bad.stdout).toBe('');
    expect(bad.stderr).toMatch(/^fleet: error \(unauthenticated\): 401 Unauthorized/);

    const none = await fleetCli(['agent', 'ls'], { key: null });
    expect(none.code).toBe(3);
    expect(none.stderr).toContain('API key required');

    const viewer = await fleetCli(['container', 'rm', 'cli-idle', '--target', '_all', '--force'], { key: fleet.mintKey('viewer') });
    expect(viewer.code).toBe(3);
    expect(viewer.stderr).toMatch(/^fleet: error \(permission_denied\): 403 .*'docker:write'/);
    expect((await fleet.docker('db-01').getContainer('cli-idle').inspect()).Name).toBe('/cli-idle');
  });

  it('exits 4 when no agent matches, 2 for invalid input, 5 when the gateway is unreachable', async () => {
    const none = await fleetCli(['container', 'ls', '--target', 'role:nope', '--json']);
    expect(none.code).toBe(4);
    expect(JSON.parse(none.stdout)).toEqual({
      error: 'no agent matches target',
      details: "target 'role:nope' matched 0 of 3 live agents",
      code: 404,
      reason: 'target_empty',
    });

    const badSelector = await fleetCli(['container', 'ls', '--target', 'role:we$b']);
    expect(badSelector.code).toBe(2);
    expect(badSelector.stderr).toContain("'we$b'");

    const badFlag = await fleetCli(['container', 'ls', '--target', '_all', '--limit', 'many']);
    expect(badFlag.code).toBe(2);
    expect(badFlag.stderr).toContain('--limit');

    const noTarget = await fleetCli(['container', 'ls']);
    expect(noTarget.code).toBe(2);

    const badBody = await fleetCli(['container', 'create', '--target', '_all', '--body', '{"image":']);
    expect(badBody.code).toBe(2);

    const unreachable = await fleetCli(['agent', 'ls'], { env: { FLEET_URL: `http://127.0.0.1:${await freePort()}` } });
    expect(unreachable.code).toBe(5);
    expect(unreachable.stderr).toContain('cannot reach the gateway');
  });
});

describe('node commands from the contract', () => {
  it('runs exec on the --target host with the command after --', async () => {
    const cli = await fleetCli([
      '--json',
      'container',
      'exec',
      '--target',
      'web-01',
      'cli-only-web01',
      '--',
      'sh',
      '-c',
      'echo out; echo err >&2; exit 3',
    ]);
    expect(cli.code).toBe(0);
    expect(cli.stderr).toBe('');
    expect(JSON.parse(cli.stdout).results).toEqual([
      expect.objectContaining({ hostname: 'web-01', status: 'ok', exit_code: 3, stdout: 'out\n', stderr: 'err\n' }),
    ]);

    const human = await fleetCli(['container', 'exec', 'cli-only-web01', '--target', 'web-01', '--', 'ls', '/']);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^HOST\s+STATUS\s+CHANGED\s+EXIT_CODE\s+DETAIL\n/);
    expect(human.stdout).toContain('--- web-01 stdout ---\n');
    expect(human.stdout).toMatch(/^bin$/m);

    const noTarget = await fleetCli(['container', 'exec', 'cli-only-web01']);
    expect(noTarget.code).toBe(2);
    expect(noTarget.stderr).toContain('--target');
  });

  it('still takes the deprecated target-first form of exec, with a one-line note on stderr', async () => {
    const cli = await fleetCli(['--json', 'container', 'exec', 'web-01', 'cli-only-web01', '--', 'sh', '-c', 'echo $0 "$@"', 'a', 'b']);
    expect(cli.code).toBe(0);
    expect(cli.stderr).toBe('fleet: the target as first argument is deprecated; use: fleet container exec --target web-01 …\n');
    expect(JSON.parse(cli.stdout).results).toEqual([
      expect.objectContaining({ hostname: 'web-01', status: 'ok', exit_code: 0, stdout: 'a b\n' }),
    ]);
  });

  it('takes body fields as arguments and flags, and image names with slashes as typed', async () => {
    const created = await fleetCli(['image', 'tag', IMAGE, 'local/cli-copy', '--tag', 'v1', '--target', 'role:web']);
    expect(created.code).toBe(0);
    for (const host of ['web-01', 'web-02'])
      expect((await fleet.docker(host).getImage('local/cli-copy:v1').inspect()).RepoTags).toContain('local/cli-copy:v1');

    const removed = await fleetCli(['image', 'rm', 'local/cli-copy:v1', '--target', 'role:web', '--force']);
    expect(removed.code).toBe(0);
    await expect(fleet.docker('web-01').getImage('local/cli-copy:v1').inspect()).rejects.toMatchObject({ statusCode: 404 });

    const run = await fleetCli([
      'container',
      'create',
      IMAGE,
      '--name',
      'cli-flags',
      '--cmd',
      'sleep',
      '--cmd',
      '300',
      '--labels',
      'fleet.test=cli',
      '--env',
      'A=1',
      '--target',
      'db-01',
    ]);
    expect(run.code).toBe(0);
    const inspected = await fleet.docker('db-01').getContainer('cli-flags').inspect();
    expect(inspected.Config.Cmd).toEqual(['sleep', '300']);
    expect(inspected.Config.Env).toContain('A=1');
    expect(inspected.Config.Labels['fleet.test']).toBe('cli');
  });

  it('--async answers with the job id; job get --wait follows it to the end', async () => {
    const accepted = await fleetCli(['--json', 'container', 'ls', '--target', '_all', '--async']);
    expect(accepted.code).toBe(0);
    const { job_id: jobId, status } = JSON.parse(accepted.stdout);
    expect(status).toBe('pending');

    const waited = await fleetCli(['job', 'get', jobId, '--wait', '60', '--json']);
    expect(waited.code).toBe(0);
    const job = JSON.parse(waited.stdout);
    expect(job).toMatchObject({ job_id: jobId, operation: 'docker.container.list', target: '_all', status: 'ok', hosts: HOSTS });
    expect(job.results.map((row: { status: string }) => row.status)).toEqual(['ok', 'ok', 'ok']);

    const human = await fleetCli(['job', 'get', jobId]);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(new RegExp(`^job\\s+${jobId}$`, 'm'));
    expect(human.stdout).toMatch(/^operation\s+docker\.container\.list$/m);

    const listed = await fleetCli(['job', 'ls', '--operation', 'docker.container.list', '--limit', '50', '--json']);
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.stdout).jobs.map((j: { job_id: string }) => j.job_id)).toContain(jobId);

    const unknown = await fleetCli(['job', 'get', '6f1c2a52-93a4-4c5e-9d55-8a0a3f2b8c11']);
    expect(unknown.code).toBe(4);
  });

  it('job ls filters by the target a job named with --filter-target; --target there is a deprecated alias', async () => {
    const { job_id: jobId } = await sdk.node('_all').submit('docker.container.list', {});
    const sentToAll = await fleetCli(['job', 'ls', '--filter-target', '_all', '--limit', '50', '--json']);
    expect(sentToAll.stderr).toBe('');
    const allJobs = JSON.parse(sentToAll.stdout).jobs as Array<{ job_id: string; target: string }>;
    expect(allJobs.map((j) => j.job_id)).toContain(jobId);
    expect(new Set(allJobs.map((j) => j.target))).toEqual(new Set(['_all']));
    const sentToWeb01 = await fleetCli(['job', 'ls', '--filter-target', 'web-01', '--limit', '50', '--json']);
    expect(JSON.parse(sentToWeb01.stdout).jobs.map((j: { job_id: string }) => j.job_id)).not.toContain(jobId);
    const deprecated = await fleetCli(['job', 'ls', '--target', '_all', '--limit', '50', '--json']);
    expect(deprecated.code).toBe(0);
    expect(deprecated.stderr).toBe('fleet: --target on job list is deprecated; it filters: use --filter-target _all\n');
    expect(JSON.parse(deprecated.stdout).jobs.map((j: { job_id: string }) => j.job_id)).toContain(jobId);
  });

  it('job get exits 1 for a job with a failed host', async () => {
    const accepted = await sdk.node('_all').submit('docker.container.start', { id: 'cli-only-web01' });
    const waited = await fleetCli(['job', 'get', accepted.job_id, '--wait']);
    expect(waited.code).toBe(1);
    expect(waited.stdout).toMatch(/^status\s+partial$/m);
  });
});

describe("docker's flags", () => {
  const RUN_LABEL = 'fleet.test=cli-run';
  const WEB = ['web-01', 'web-02'];
  const NOT_FOUND = { statusCode: 404 };
  const shortIds = (containers: Array<{ Id: string }>) => containers.map((c) => c.Id.slice(0, 12)).sort();

  it('container run -d -e -p -v --name --restart: one job creates and starts it on each targeted host, as the engines show', async () => {
    const flags = '-d -e GREETING=hi -e MODE=test -p 127.0.0.1::80 -v cli-run-data:/data --name cli-run --restart unless-stopped';
    const cli = await fleetCli([
      ...`--format json container run ${flags} -l ${RUN_LABEL} --target role:web ${IMAGE}`.split(' '),
      ...['sh', '-c', 'echo started; sleep 300'],
    ]);
    expect(cli.stderr).toBe('');
    expect(cli.code).toBe(0);
    const answer = JSON.parse(cli.stdout);
    expect(Object.keys(answer).sort()).toEqual(['job_id', 'results']);
    const started = { status: 'ok', changed: true, message: 'container created and started' };
    expect(answer.results).toEqual(WEB.map((hostname) => expect.objectContaining({ hostname, ...started })));
    const job = await sdk.jobs.get(answer.job_id);
    expect(job).toMatchObject({ operation: 'docker.container.create', target: 'role:web', hosts: WEB, status: 'ok' });

    for (const host of WEB) {
      const inspected = await fleet.docker(host).getContainer('cli-run').inspect();
      expect(inspected.Id).toBe(answer.results.find((row: { hostname: string }) => row.hostname === host).id);
      expect(inspected.State.Running).toBe(true);
      expect(inspected.Config.Cmd).toEqual(['sh', '-c', 'echo started; sleep 300']);
      expect(inspected.Config.Env).toEqual(expect.arrayContaining(['GREETING=hi', 'MODE=test']));
      expect(inspected.Config.Labels['fleet.test']).toBe('cli-run');
      expect(inspected.HostConfig).toMatchObject({
        PortBindings: { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] },
        RestartPolicy: { Name: 'unless-stopped', MaximumRetryCount: 0 },
      });
      expect(inspected.Mounts).toEqual([expect.objectContaining({ Type: 'volume', Name: 'cli-run-data', Destination: '/data' })]);
    }
    await expect(fleet.docker('db-01').getContainer('cli-run').inspect()).rejects.toMatchObject({ statusCode: 404 });

    const logs = await fleetCli(['container', 'logs', '-n', '1', '-t', 'cli-run', '--target', 'web-01']);
    expect(logs.code).toBe(0);
    expect(logs.stdout).toMatch(/^--- web-01 stdout ---\n\d{4}-\d\d-\d\dT\S+ started\n/m);
  });

  it('logs -f -n 1 -t follows with timestamps, as lines per host, until the deadline', async () => {
    const cli = await fleetCli(['container', 'logs', '-f', '-n', '1', '-t', 'cli-run', '--target', 'role:web', '--timeout', '3']);
    expect(cli.code).toBe(0);
    expect(cli.stdout).toMatch(/^web-01\s+ok\s+no\s+log stream ended$/m);
    for (const host of WEB) expect(cli.stdout).toMatch(new RegExp(`^${host} \\| \\d{4}-\\d\\d-\\d\\dT\\S+ started$`, 'm'));
  });

  it('container ls -a -q -f status=running: ids per line, after their host for a selector, alone for a hostname', async () => {
    const idle = { image: IMAGE, name: 'cli-run-idle', cmd: ['sleep', '300'], labels: { 'fleet.test': 'cli-run' } };
    await sdk.node('web-01').containers.create(idle);
    const onEngine = (host: string, filters: Record<string, string[]>) =>
      fleet.docker(host).listContainers({ all: true, filters: JSON.stringify(filters) });

    const running = await fleetCli(['container', 'ls', '-a', '-q', '-f', 'status=running', '-f', `label=${RUN_LABEL}`, '--target', '_all']);
    expect(running.stderr).toBe('');
    expect(running.code).toBe(0);
    const expected: string[] = [];
    for (const host of HOSTS) {
      for (const id of shortIds(await onEngine(host, { status: ['running'], label: [RUN_LABEL] }))) expected.push(`${host}\t${id}`);
    }
    expect(expected.map((line) => line.split('\t')[0])).toEqual(WEB);
    expect(running.stdout.split('\n').filter(Boolean).sort()).toEqual(expected.sort());

    const all = await fleetCli(['container', 'ls', '-a', '-q', '-f', `label=${RUN_LABEL}`, '--target', 'web-01']);
    expect(all.code).toBe(0);
    const web01All = shortIds(await onEngine('web-01', { label: [RUN_LABEL] }));
    expect(web01All).toHaveLength(2);
    expect(all.stdout.split('\n').filter(Boolean).sort()).toEqual(web01All);

    const ps = await fleetCli(['ps', '-q', '--filter', `label=${RUN_LABEL}`, '--target', 'web-01']);
    expect(ps.code).toBe(0);
    expect(ps.stdout.split('\n').filter(Boolean)).toEqual(shortIds(await onEngine('web-01', { status: ['running'], label: [RUN_LABEL] })));

    const json = await fleetCli(['ps', '-a', '-f', `label=${RUN_LABEL}`, '--format', 'json', '--target', 'role:web']);
    expect(json.code).toBe(0);
    const filters = encodeURIComponent(JSON.stringify({ label: [RUN_LABEL] }));
    const rest = await api(fleet, 'GET', `/node/role:web/container/docker?all=true&filters=${filters}`);
    expect(comparable(JSON.parse(json.stdout).results)).toEqual(comparable(rest.body.results));

    const images = await fleetCli(['images', '-q', '-f', 'reference=local/busybox', '--target', 'db-01']);
    expect(images.code).toBe(0);
    expect(images.stdout).toBe(`${(await fleet.docker('db-01').getImage(IMAGE).inspect()).Id.replace('sha256:', '').slice(0, 12)}\n`);
  });

  it('exits 1 when fleet run fails on a host (the name is taken on web-01) and starts it where it could', async () => {
    const cli = await fleetCli(['run', '-d', '--name', 'cli-run-idle', '--target', 'role:web', IMAGE, 'sleep', '300']);
    expect(cli.code).toBe(1);
    const rows = cli.stdout
      .trimEnd()
      .split('\n')
      .slice(1)
      .map((line) => line.split(/\s{2,}/).slice(0, 3));
    expect(rows).toEqual([
      ['web-01', 'failed', 'no'],
      ['web-02', 'ok', 'yes'],
    ]);
    expect((await fleet.docker('web-01').getContainer('cli-run-idle').inspect()).State.Running).toBe(false);
    expect((await fleet.docker('web-02').getContainer('cli-run-idle').inspect()).State.Running).toBe(true);
  });

  it("judges run's host paths as create's: an operator key is refused (docker:host) and no engine gets a container", async () => {
    const args = `container run -d -v /etc:/host-etc:ro --name cli-run-host --target _all ${IMAGE}`.split(' ');
    const cli = await fleetCli(args, { key: fleet.mintKey('operator') });
    expect(cli.code).toBe(3);
    expect(cli.stderr).toContain('docker:host');
    for (const host of HOSTS) await expect(fleet.docker(host).getContainer('cli-run-host').inspect()).rejects.toMatchObject(NOT_FOUND);
  });

  it('stop -t 1 and rm -f -v: stopped, then gone from the engines', async () => {
    const stopped = await fleetCli(['container', 'stop', '-t', '1', 'cli-run', '--target', 'role:web']);
    expect(stopped.code).toBe(0);
    for (const host of WEB) expect((await fleet.docker(host).getContainer('cli-run').inspect()).State.Running).toBe(false);
    const removed = await fleetCli(['container', 'rm', '-f', '-v', 'cli-run-idle', '--target', 'role:web']);
    expect(removed.code).toBe(0);
    for (const host of WEB) await expect(fleet.docker(host).getContainer('cli-run-idle').inspect()).rejects.toMatchObject(NOT_FOUND);
  });

  it('refuses what docker would attach (no -d, -it, --rm) with why, exit 2, creating nothing', async () => {
    for (const flags of [[], ['-d', '-it'], ['-d', '--rm']]) {
      const cli = await fleetCli(['container', 'run', ...flags, '--name', 'cli-run-refused', '--target', '_all', IMAGE]);
      expect(cli.code).toBe(2);
      expect(cli.stderr).toMatch(/^fleet: (add -d|--interactive|--rm)/);
    }
    for (const host of HOSTS) await expect(fleet.docker(host).getContainer('cli-run-refused').inspect()).rejects.toMatchObject(NOT_FOUND);
  });

  it('--format json is --json on every command (agents, jobs, errors); table is the default; asking for both is a usage error', async () => {
    const agents = await fleetCli(['agent', 'ls', '--format', 'json']);
    expect(agents.code).toBe(0);
    expect(
      JSON.parse(agents.stdout)
        .agents.map((agent: { hostname: string }) => agent.hostname)
        .sort(),
    ).toEqual(HOSTS);
    const table = await fleetCli(['agent', 'ls', '--format', 'table']);
    expect(table.stdout).toMatch(/^HOSTNAME\s+LIVE\s+DRAINED/);

    const { job_id: jobId } = await sdk.node('_all').submit('docker.container.list', {});
    const job = await fleetCli(['job', 'get', jobId, '--wait', '60', '--format', 'json']);
    expect(JSON.parse(job.stdout)).toMatchObject({ job_id: jobId, operation: 'docker.container.list', hosts: HOSTS });

    const missing = await fleetCli(['container', 'inspect', 'cli-nothing-here', '--target', 'web-01', '--format', 'json']);
    expect(missing.code).toBe(1);
    expect(JSON.parse(missing.stdout)).toMatchObject({ code: 404, job_id: expect.stringMatching(UUID) });

    const both = await fleetCli(['--json', '--format', 'table', 'ps', '--target', '_all']);
    expect(both.code).toBe(2);
    expect(both.stderr).toBe('fleet: --json and --format table ask for different outputs\n');
    const template = await fleetCli(['ps', '--format', '{{.ID}}', '--target', '_all']);
    expect(template.code).toBe(2);
    expect(template.stderr).toContain('Allowed choices are json, table');
  });
});

describe('rollouts (README "CLI", "Rollouts")', () => {
  const NAME = 'cli-wave';
  const WEB = ['web-01', 'web-02'];
  /** db-01 comes first in hostname order and has no `cli-wave`: its restart fails (404) and stops a rollout with max_failures 0. */
  beforeAll(() =>
    Promise.all(
      WEB.map(async (host) => {
        const container = await fleet.docker(host).createContainer({ name: NAME, Image: IMAGE, Cmd: ['sleep', '3600'], Labels: LABELS });
        await container.start();
      }),
    ),
  );
  afterAll(() => fleet.removeContainers(WEB, [NAME]));

  const startedAt = async () =>
    Object.fromEntries(
      await Promise.all(WEB.map(async (host) => [host, (await fleet.docker(host).getContainer(NAME).inspect()).State.StartedAt])),
    );
  const restart = (...flags: string[]) =>
    fleetCli(['restart', NAME, '--target', '_all', '-t', '0', '--batch', '1', '--timeout', '20', ...flags]);

  it('draws each wave as it goes, then the rows; the first host failing stops it: exit 7, the others skipped and untouched', async () => {
    const before = await startedAt();
    const cli = await restart('--max-failures', '0');

    expect(cli.code).toBe(7);
    const lines = cli.stdout.split('\n').map((line) => line.trimEnd());
    expect(lines[0]).toMatch(new RegExp(`^rollout ${UUID.source.slice(1, -1)}: 3 host\\(s\\) in 3 wave\\(s\\), max_failures 0 `));
    expect(lines.slice(1, 4)).toEqual([
      'wave 1/3  db-01  started',
      'wave 1/3  db-01  failed: db-01',
      expect.stringMatching(/^stopped: rollout stopped after wave 1 of 3: /),
    ]);
    const rows = lines.slice(5, 8).map((line) => line.split(/\s{2,}/));
    expect(rows).toEqual([
      ['db-01', 'failed', 'no', '1', expect.stringMatching(/No such container: cli-wave \(404\)/)],
      ['web-01', 'skipped', 'no', '2', expect.stringMatching(/^rollout stopped after wave 1 of 3: /)],
      ['web-02', 'skipped', 'no', '3', expect.stringMatching(/^rollout stopped after wave 1 of 3: /)],
    ]);
    expect(await startedAt()).toEqual(before);
  });

  it("--format json prints only the gateway's 409 body of the stopped rollout; exit 7", async () => {
    const before = await startedAt();
    const cli = await restart('--max-failures', '0', '--format', 'json');

    expect(cli.code).toBe(7);
    const body = JSON.parse(cli.stdout);
    expect(body).toMatchObject({ error: 'rollout stopped', reason: 'rollout_stopped', code: 409, rollout: { state: 'stopped' } });
    expect(body.job_id).toMatch(UUID);
    expect(body.results.map((row: { status: string }) => row.status)).toEqual(['failed', 'skipped', 'skipped']);
    expect(await startedAt()).toEqual(before);
  });

  it('with --max-failures 1 it runs every wave and restarts the others: exit 1 (a host failed within the budget)', async () => {
    const before = await startedAt();
    const cli = await restart('--max-failures', '1');

    expect(cli.code).toBe(1);
    expect(cli.stdout).toContain('wave 3/3  web-02  passed');
    expect(cli.stdout).toContain('completed: every wave ran, 1 host(s) failed');
    const after = await startedAt();
    for (const host of WEB) expect(after[host]).not.toBe(before[host]);
  });

  it('--dry-run prints the plan (json with --format json), exit 0, and sends nothing', async () => {
    const before = await startedAt();
    const json = await restart('--canary', '1', '--batch', '2', '--dry-run', '--format', 'json');
    expect(json.code).toBe(0);
    const plan = JSON.parse(json.stdout);
    expect(plan).toMatchObject({ dry_run: true, operation: 'docker.container.restart', target: '_all', hosts: HOSTS });
    expect(plan.rollout.waves.map((wave: { hosts: string[] }) => wave.hosts)).toEqual([['db-01'], ['web-01', 'web-02']]);

    const table = await restart('--canary', '1', '--batch', '2', '--dry-run');
    expect(table.code).toBe(0);
    expect(
      table.stdout
        .split('\n')
        .slice(1, 4)
        .map((line) => line.trimEnd().split(/\s{2,}/)),
    ).toEqual([
      ['WAVE', 'HOSTS'],
      ['1 (canary)', 'db-01'],
      ['2', 'web-01 web-02'],
    ]);
    expect(await startedAt()).toEqual(before);
  });

  it('job pause holds a running rollout, job abort stops it: the rest skipped, job get exits 8', async () => {
    const started = await restart('--max-failures', '1', '--pause', '20', '--async', '--format', 'json');
    expect(started.code).toBe(0);
    const jobId = JSON.parse(started.stdout).job_id;

    const paused = await fleetCli(['job', 'pause', jobId]);
    expect(paused.code).toBe(0);
    expect(paused.stdout).toMatch(new RegExp(`^job ${jobId}: rollout running, held by `));
    const aborted = await fleetCli(['job', 'abort', jobId, '--format', 'json']);
    expect(aborted.code).toBe(0);
    expect(JSON.parse(aborted.stdout)).toMatchObject({ job_id: jobId, rollout: { waves: expect.any(Array) } });

    const job = await fleetCli(['job', 'get', jobId, '--wait', '60']);
    expect(job.code).toBe(8);
    expect(job.stdout).toMatch(/^rollout aborted[,:] /m);
    const stored = await sdk.jobs.get(jobId);
    expect(stored.rollout?.state).toBe('aborted');
    expect(stored.results.filter((row) => row.status === 'skipped').length).toBeGreaterThan(0);
  });

  it('--idempotency-key sent twice answers the same job and makes one container on each engine', async () => {
    const label = 'fleet.test.idem=cli';
    const runOnce = () =>
      fleetCli([
        'run',
        '-d',
        '-l',
        label,
        '--idempotency-key',
        `cli-idem-${process.pid}`,
        '--format',
        'json',
        '--target',
        '_all',
        IMAGE,
        'sleep',
        '300',
      ]);
    const first = await runOnce();
    const second = await runOnce();

    expect([first.code, second.code]).toEqual([0, 0]);
    expect(JSON.parse(second.stdout).job_id).toBe(JSON.parse(first.stdout).job_id);
    for (const host of HOSTS) {
      const made = await fleet.docker(host).listContainers({ all: true, filters: { label: [label] } });
      expect({ host, count: made.length }).toEqual({ host, count: 1 });
      await Promise.all(made.map((container) => fleet.docker(host).getContainer(container.Id).remove({ force: true })));
    }
  });
});

describe('agents, tokens, audit', () => {
  it('agent ls prints every agent; drain and undrain change what _all reaches', async () => {
    const table = await fleetCli(['agent', 'ls']);
    expect(table.code).toBe(0);
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^HOSTNAME\s+LIVE\s+DRAINED\s+ENGINE\s+LABELS\s+ENROLLMENT/);
    expect(lines.slice(1).map((line) => line.split(/\s{2,}/).slice(0, 3))).toEqual(HOSTS.map((host) => [host, 'yes', 'no']));

    const json = await fleetCli(['agent', 'ls', '--json']);
    expect(
      JSON.parse(json.stdout)
        .agents.map((agent: { hostname: string }) => agent.hostname)
        .sort(),
    ).toEqual(HOSTS);

    const drained = await fleetCli(['agent', 'drain', 'web-02']);
    try {
      expect(drained.code).toBe(0);
      expect(drained.stdout).toBe('web-02: drained\n');
      const all = await sdk.node('_all').containers.list();
      expect(all.results.map((row) => row.hostname)).toEqual(['db-01', 'web-01']);
    } finally {
      expect((await fleetCli(['agent', 'undrain', 'web-02'])).code).toBe(0);
    }
    expect((await sdk.agents.get('web-02')).drained).toBe(false);
  });

  it('token create --json and token revoke: the key works until it is revoked', async () => {
    const minted = await fleetCli(['--json', 'token', 'create', '--role', 'viewer', '--ttl', '10m', '--subject', 'cli-test'], {
      env: { FLEET_JWT_SECRET_FILE: fleet.state.jwtSecretFile },
    });
    expect(minted.code).toBe(0);
    const { key, jti } = JSON.parse(minted.stdout);
    expect(jti).toBe(jtiOf(key));
    const holder = createFleetClient({ url: fleet.url, apiKey: key });
    expect((await holder.agents.list()).agents).toHaveLength(3);

    const revoked = await fleetCli(['token', 'revoke', jti]);
    expect(revoked.code).toBe(0);
    expect(revoked.stdout).toBe(`revoked ${jti}\n`);
    await expect(holder.agents.list()).rejects.toBeInstanceOf(UnauthorizedError);
    expect((await fleetCli(['agent', 'ls'], { key })).code).toBe(3);
  });

  it('audit ls shows the requests, newest first, with who made them', async () => {
    const jti = jtiOf(fleet.mintKey('viewer'));
    expect((await fleetCli(['token', 'revoke', jti])).code).toBe(0);
    const audit = await fleetCli(['audit', 'ls', '--method', 'DELETE', '--limit', '5', '--json']);
    expect(audit.code).toBe(0);
    const entries = JSON.parse(audit.stdout).entries;
    expect(entries[0]).toMatchObject({ method: 'DELETE', path: `/token/${jti}`, status: 200 });

    const webReads = await fleetCli(['audit', 'ls', '--filter-target', 'role:web', '--method', 'GET', '--json']);
    expect(webReads.code).toBe(0);
    const webEntries = JSON.parse(webReads.stdout).entries as Array<{ target: string; path: string }>;
    expect(webEntries.length).toBeGreaterThan(0);
    expect(webEntries.every((entry) => entry.target === 'role:web' && entry.path.startsWith('/node/role:web/'))).toBe(true);

    const table = await fleetCli(['audit', 'ls', '--method', 'DELETE', '--limit', '1']);
    expect(table.stdout).toMatch(
      new RegExp(`^TIME\\s+CALLER\\s+METHOD\\s+PATH\\s+STATUS\\s+MS\\s+JOB\\n\\S+\\s+\\S+\\s+DELETE\\s+/token/${jti}\\s+200\\s`),
    );
  });
});

describe('connection settings', () => {
  it('reads url and key from the config file; flags beat the environment', async () => {
    const dir = join(home, 'cfg');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, 'fleet.json');
    writeFileSync(file, JSON.stringify({ url: fleet.url, apiKey: fleet.adminKey }));
    expect((await fleetCli(['--config', file, 'agent', 'ls'], { key: null, env: { FLEET_URL: '' } })).code).toBe(0);

    mkdirSync(join(home, '.config', 'fleet'), { recursive: true });
    writeFileSync(join(home, '.config', 'fleet', 'config.json'), JSON.stringify({ url: fleet.url, apiKey: 'stale-key' }));
    try {
      expect((await fleetCli(['agent', 'ls'], { key: null, env: { FLEET_URL: '' } })).code).toBe(3);
      expect((await fleetCli(['agent', 'ls'])).code).toBe(0);
      expect((await fleetCli(['--api-key', 'bad', 'agent', 'ls'])).code).toBe(3);
    } finally {
      rmSync(join(home, '.config'), { recursive: true, force: true });
    }
    expect((await fleetCli(['--config', join(dir, 'missing.json'), 'agent', 'ls'])).code).toBe(2);
  });

  it("runs the bundle from V8's code cache: writes it once, reuses it as it is, replaces one V8 refuses or one of an older build", async () => {
    // A copy of the bin and the bundle, so this test's caches are its own.
    const root = mkdtempSync(join(home, 'codecache-'));
    mkdirSync(join(root, 'apps/cli/bin'), { recursive: true });
    mkdirSync(join(root, 'dist'));
    copyFileSync(join(REPO, 'apps/cli/bin/fleet.js'), join(root, 'apps/cli/bin/fleet.js'));
    copyFileSync(join(REPO, 'dist/fleet.js'), join(root, 'dist/fleet.js'));
    const version = (JSON.parse(readFileSync(join(REPO, 'apps/cli/package.json'), 'utf8')) as { version: string }).version;
    const run = () => {
      const res = spawnSync(process.execPath, [join(root, 'apps/cli/bin/fleet.js'), '--version'], { encoding: 'utf8' });
      expect(res.stdout).toBe(`${version}\n`);
      return readdirSync(join(root, 'dist')).filter((name) => name.endsWith('.codecache'));
    };
    const [cache] = run();
    const { size, mtimeMs } = statSync(join(root, 'dist/fleet.js'));
    expect(cache).toBe(`fleet.js.${size}-${Math.trunc(mtimeMs)}.codecache`);
    const written = readFileSync(join(root, 'dist', cache));
    expect(written.length).toBeGreaterThan(0);
    expect(run()).toEqual([cache]);
    expect(readFileSync(join(root, 'dist', cache)).equals(written)).toBe(true);

    writeFileSync(join(root, 'dist', cache), 'not a code cache');
    expect(run()).toEqual([cache]);
    expect(readFileSync(join(root, 'dist', cache)).toString()).not.toBe('not a code cache');

    const rebuilt = new Date(Date.now() + 5_000);
    utimesSync(join(root, 'dist/fleet.js'), rebuilt, rebuilt);
    expect(run()).toEqual([`fleet.js.${size}-${Math.trunc(statSync(join(root, 'dist/fleet.js')).mtimeMs)}.codecache`]);
  });

  it('starts compiled: --version and --help load the bin and dist/fleet.js, and nothing of tsx or the packages only some commands need', async () => {
    const report = join(home, 'loaded.json');
    const preload = join(home, 'report-loaded.js');
    writeFileSync(
      preload,
      `process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(report)}, JSON.stringify({ execArgv: ` +
        `process.execArgv, modules: Object.keys(require.cache) })));\n`,
    );
    const loaded = async (args: string[]) => {
      const res = await new Promise<CliResult>((done) => {
        const child = spawn(process.execPath, ['--require', preload, ...CLI, ...args], { cwd: REPO, env: cliEnv({}) });
        let stdout = '';
        child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
        child.on('close', (code) => done({ code, stdout, stderr: '' }));
      });
      return { ...res, ...(JSON.parse(readFileSync(report, 'utf8')) as { execArgv: string[]; modules: string[] }) };
    };
    const version = await loaded(['--version']);
    expect(version.code).toBe(0);
    expect(version.stdout).toBe(
      `${(JSON.parse(readFileSync(join(REPO, 'apps/cli/package.json'), 'utf8')) as { version: string }).version}\n`,
    );
    for (const run of [version, await loaded(['--help']), await loaded(['container', 'ls', '--help'])]) {
      expect(run.code).toBe(0);
      expect(run.modules).toEqual([preload, join(REPO, 'apps/cli/bin/fleet.js'), join(REPO, 'dist/fleet.js')]);
      expect(run.execArgv).toEqual(['--require', preload]);
    }
  });

  it('runs against a fleet whose gateway and agents are the compiled programs', () => {
    const commandLine = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    expect(commandLine(fleet.gatewayPid)).toEqual([process.execPath, join(REPO, 'dist/gateway.js')]);
    for (const host of HOSTS) expect(commandLine(fleet.agentPid(host))).toEqual([process.execPath, join(REPO, 'dist/agent.js')]);
  });

  it('installs a fleet bin that runs the same CLI', async () => {
    const res = await new Promise<CliResult>((done) => {
      const child = spawn(join(REPO, 'node_modules', '.bin', 'fleet'), ['agent', 'ls', '--json'], { cwd: home, env: cliEnv({}) });
      let stdout = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.on('close', (code) => done({ code, stdout, stderr: '' }));
    });
    expect(res.code).toBe(0);
    expect(JSON.parse(res.stdout).agents).toHaveLength(3);
  });
});

describe('image pull progress', () => {
  let registry: Registry;
  let scratch: string;
  let remote: string;

  beforeAll(async () => {
    scratch = mkdtempSync('/tmp/flt-cli-reg-');
    registry = await startRegistry({ dir: scratch, port: await freePort() });
    remote = `${registry.address}/cli-busybox`;
    const web01 = sdk.node('web-01');
    await web01.call('docker.image.tag', { image: IMAGE, repo: remote, tag: 'p1' });
    const pushed = await web01.call('docker.image.push', { image: remote, tag: 'p1' });
    expect(pushed.results[0].status).toBe('ok');
    await web01.images.remove(`${remote}:p1`);
  });

  afterAll(async () => {
    if (registry) await stopRegistry(registry);
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it('on a TTY, redraws one line per host from the progress stream, then prints the rows', async () => {
    const cli = await fleetCli(['image', 'pull', remote, '--tag', 'p1', '--target', '_all'], { tty: true });
    expect(cli.code).toBe(0);
    const out = cli.stdout.replace(/\r/g, '');
    // The block of three host lines is rewritten in place (cursor up three lines, clear each line).
    expect(out).toContain('\x1b[3A\x1b[2K');
    for (const host of HOSTS) expect(out).toMatch(new RegExp(`\\x1b\\[2K${host}\\s+done: Status: Downloaded newer image for ${remote}:p1`));
    expect(out).toMatch(new RegExp(`^db-01\\s+ok\\s+yes\\s+${remote}:p1`, 'm'));
    for (const host of HOSTS) expect((await fleet.docker(host).getImage(`${remote}:p1`).inspect()).RepoTags).toContain(`${remote}:p1`);
  });

  it('without a TTY, --progress prints a plain line per status change and host', async () => {
    await sdk.node('_all').images.remove(`${remote}:p1`);
    const cli = await fleetCli(['image', 'pull', remote, '--tag', 'p1', '--target', 'role:web', '--progress']);
    expect(cli.code).toBe(0);
    expect(cli.stdout).not.toContain('\x1b[');
    for (const host of ['web-01', 'web-02']) expect(cli.stdout).toContain(`${host}: Status: Downloaded newer image for ${remote}:p1\n`);
    const upToDate = await fleetCli(['--json', 'image', 'pull', remote, '--tag', 'p1', '--target', 'role:web']);
    expect(JSON.parse(upToDate.stdout).results.map((row: { changed: boolean }) => row.changed)).toEqual([false, false]);
  });
});
