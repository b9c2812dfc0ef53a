import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Command } from 'commander';
import { JOB_CONTROL_PARAMS, OPERATIONS } from '@fleet/contracts/operations';
import { ConflictError, type DryRunPlan, type Rollout } from '@fleet/sdk';
import { registerFleetApiCommands } from './commands/fleet-api';
import { commandPath, registerNodeCommands } from './commands/node';
import { runOptions } from './commands/run';
import { operationDetails } from './contract';
import { dockerArgv } from './docker';
import { EXIT, exitCodeForError, exitCodeForJob } from './exit';
import { flagName } from './flags';
import { renderRollout } from './output';
import { jobControlParams, OWN_JOB_FLAGS } from './job-control';
import { renderPlan, WaveLines } from './rollout-lines';

const JOB_ID = '550e8400-e29b-41d4-a716-446655440000';

/** A program with every node command built (commander builds a family's commands when it is dispatched to). */
async function everyNodeCommand(): Promise<Command> {
  const program = new Command()
    .exitOverride()
    .configureOutput({ writeOut: () => undefined, writeErr: () => undefined })
    .option('--url <url>');
  registerNodeCommands(program);
  for (const family of new Set(OPERATIONS.filter((op) => op.nodeTargeted).map((op) => commandPath(op.name).family))) {
    await program.parseAsync([family, '--help'], { from: 'user' }).catch(() => undefined);
  }
  return program;
}

describe('job-control flags, derived from the contract', () => {
  it('every x-job-control parameter but the target, --timeout and --async (Prefer) is a flag of every node command that takes it', async () => {
    const program = await everyNodeCommand();
    const expected = [...JOB_CONTROL_PARAMS].filter((name) => !OWN_JOB_FLAGS.has(name)).map(flagName);
    expect(expected).toEqual(
      expect.arrayContaining(['batch', 'canary', 'max-failures', 'pause', 'health', 'health-delay', 'health-cmd', 'order', 'seed']),
    );
    expect(expected).toEqual(expect.arrayContaining(['dry-run', 'idempotency-key']));
    let checked = 0;
    for (const spec of OPERATIONS.filter((op) => op.nodeTargeted)) {
      const details = operationDetails(spec);
      const { family, verb } = commandPath(spec.name);
      const command = program.commands.find((c) => c.name() === family)?.commands.find((c) => c.name() === verb);
      expect(command).toBeDefined();
      for (const param of jobControlParams(details)) {
        // The flag's help is the contract's own description: nothing about it is restated in the CLI.
        const option = command?.options.find((candidate) => candidate.long === `--${flagName(param.name)}`);
        expect({ operation: spec.name, flag: option?.long, help: option?.description.replace(/ \(.*\)$/, '') }).toEqual({
          operation: spec.name,
          flag: `--${flagName(param.name)}`,
          help: (param.description ?? '')
            .replace(/\s+/g, ' ')
            .trim()
            .replace(/ \(.*\)$/, ''),
        });
        checked++;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(expected.length);
  });

  it("docker's fleet run takes create's job controls too", () => {
    const longs = runOptions().map((option) => option.long);
    const create = operationDetails(OPERATIONS.find((op) => op.name === 'docker.container.create') as (typeof OPERATIONS)[number]);
    expect(longs).toEqual(expect.arrayContaining(jobControlParams(create).map((param) => `--${flagName(param.name)}`)));
    expect(jobControlParams(create).length).toBeGreaterThan(0);
  });
});

const rollout = (overrides: Partial<Rollout> = {}): Rollout => ({
  state: 'running',
  order: 'hostname',
  max_failures: 0,
  pause_seconds: 0,
  failures: 0,
  health: 'healthy',
  waves: [
    { wave: 1, hosts: ['web-01'], state: 'passed', failed: [] },
    { wave: 2, hosts: ['web-02', 'web-03'], state: 'running' },
    { wave: 3, hosts: ['web-04'], state: 'pending' },
  ],
  ...overrides,
});

/** Stopped by its failed wave 1 (web-01), wave 2 (web-02) skipped. */
const stoppedAfterWave1 = rollout({
  state: 'stopped',
  failures: 1,
  stop_reason: 'rollout stopped after wave 1 of 2',
  waves: [
    { wave: 1, hosts: ['web-01'], state: 'failed', failed: ['web-01'] },
    { wave: 2, hosts: ['web-02'], state: 'skipped' },
  ],
});

describe('wave lines', () => {
  it('one line per rollout event, naming the wave of all, its hosts and what its gate found', () => {
    const lines = new WaveLines(rollout());
    expect(lines.line({ event: 'wave_started', wave: 2, hosts: ['web-02', 'web-03'] })).toBe('wave 2/3  web-02 web-03  started');
    expect(lines.line({ event: 'wave_ended', wave: 2, state: 'passed', failed: [], gate: 'healthy' })).toBe(
      'wave 2/3  web-02 web-03  passed (gate healthy)',
    );
    expect(lines.line({ event: 'wave_ended', wave: 2, state: 'failed', failed: ['web-03'] })).toBe(
      'wave 2/3  web-02 web-03  failed: web-03',
    );
    expect(lines.line({ event: 'paused', until: '2026-12-07T10:00:00.000Z' })).toBe(
      'pausing until 2026-12-07T10:00:00.000Z before the next wave',
    );
    expect(lines.line({ event: 'held', by: 'alice' })).toBe('held by alice: no wave is sent until it is resumed');
    expect(lines.line({ event: 'resumed' })).toBe('resumed');
    expect(lines.line({ event: 'stopped', reason: 'rollout stopped after wave 2 of 3', failures: 1 })).toBe(
      'stopped: rollout stopped after wave 2 of 3',
    );
    expect(lines.line({ event: 'aborted', reason: 'aborted by alice' })).toBe('aborted: aborted by alice');
    expect(lines.line({ event: 'completed', failures: 0 })).toBe('completed: every wave ran, 0 host(s) failed');
  });

  it('names at most 8 hosts of a wave, then how many more', () => {
    const hosts = Array.from({ length: 10 }, (_, index) => `h${index}`);
    expect(new WaveLines(rollout()).line({ event: 'wave_started', wave: 1, hosts })).toBe(
      'wave 1/3  h0 h1 h2 h3 h4 h5 h6 h7 +2 more  started',
    );
  });

  it('a feed joining late announces what already happened, in order; an ended rollout its outcome', () => {
    expect(WaveLines.sofar(rollout())).toEqual([
      { event: 'wave_started', wave: 1, hosts: ['web-01'] },
      { event: 'wave_ended', wave: 1, state: 'passed', failed: [], gate: 'healthy' },
      { event: 'wave_started', wave: 2, hosts: ['web-02', 'web-03'] },
    ]);
    expect(WaveLines.sofar(stoppedAfterWave1).slice(1)).toEqual([
      { event: 'wave_ended', wave: 1, state: 'failed', failed: ['web-01'], gate: 'healthy' },
      { event: 'stopped', reason: 'rollout stopped after wave 1 of 2', failures: 1 },
    ]);
  });

  it('--dry-run: the hosts of each wave as a table', () => {
    const plan: DryRunPlan = {
      dry_run: true,
      operation: 'docker.container.restart',
      target: '_all',
      hosts: ['web-01', 'web-02', 'web-03'],
      rollout: rollout({
        waves: [
          { wave: 1, hosts: ['web-01'], state: 'pending', canary: true },
          { wave: 2, hosts: ['web-02', 'web-03'], state: 'pending' },
        ],
      }),
    };
    expect(
      renderPlan(plan)
        .split('\n')
        .map((line) => line.trimEnd()),
    ).toEqual([
      'docker.container.restart on _all: 3 host(s), max_failures 0; nothing was sent',
      'WAVE         HOSTS',
      '1 (canary)   web-01',
      '2            web-02 web-03',
      '',
    ]);
  });
});

describe('a rollout as job get, pause, resume and abort print it', () => {
  it('its state, who holds it, its failures and each wave', () => {
    const held = rollout({ paused_by: 'alice', failures: 1, max_failures: 1 });
    expect(
      renderRollout(held)
        .split('\n')
        .map((line) => line.trimEnd()),
    ).toEqual([
      'rollout running, held by alice: 1 failure(s), 1 tolerated',
      'WAVE   STATE     HOSTS           FAILED',
      '1      passed    web-01',
      '2      running   web-02 web-03',
      '3      pending   web-04',
      '',
    ]);
  });
});

describe('exit codes of a rollout', () => {
  const ok = { status: 'ok' };
  const skipped = { status: 'skipped' };

  it('0 completed with every host ok, 1 completed with failures within max_failures, 7 stopped, 8 aborted', () => {
    expect(exitCodeForJob({ results: [ok, ok], rollout: { state: 'completed' } })).toBe(EXIT.OK);
    expect(exitCodeForJob({ results: [ok, { status: 'failed' }], rollout: { state: 'completed' } })).toBe(EXIT.HOST_FAILED);
    expect(exitCodeForJob({ results: [{ status: 'failed' }, skipped], rollout: { state: 'stopped' } })).toBe(EXIT.ROLLOUT_STOPPED);
    expect(exitCodeForJob({ results: [ok, skipped], rollout: { state: 'aborted' } })).toBe(EXIT.ROLLOUT_ABORTED);
    expect(exitCodeForJob({ results: [ok, { status: 'failed' }] })).toBe(EXIT.HOST_FAILED);
    expect(new Set(Object.values(EXIT)).size).toBe(Object.values(EXIT).length);
  });

  it("the gateway's 409 of a stopped or aborted rollout (with its job_id) is 7 or 8, not a host failure", () => {
    const body = (reason: string) => ({ error: reason.replace('_', ' '), details: 'x', code: 409, reason, job_id: JOB_ID });
    expect(exitCodeForError(new ConflictError(409, body('rollout_stopped')))).toBe(EXIT.ROLLOUT_STOPPED);
    expect(exitCodeForError(new ConflictError(409, body('rollout_aborted')))).toBe(EXIT.ROLLOUT_ABORTED);
    expect(exitCodeForError(new ConflictError(409, { ...body('rollout_not_running'), job_id: undefined }))).toBe(EXIT.ERROR);
  });
});

describe('a rollout as the CLI runs it (fake gateway)', () => {
  let server: Server;
  let url: string;
  const requests: Array<{ method?: string; url: URL; headers: IncomingMessage['headers'] }> = [];
  const printed = { stdout: '', stderr: '' };
  let feedRefused = false;
  /** Feeds that end at their `timeout` while the rollout still runs. */
  let feedsCutShort = 0;
  const rows = [
    { hostname: 'web-01', status: 'failed', changed: false, error: 'No such container: app', error_code: 404, wave: 1 },
    { hostname: 'web-02', status: 'skipped', changed: false, wave: 2, skipped_reason: 'rollout stopped after wave 1 of 2' },
  ];

  function feed(res: ServerResponse): void {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const send = (event: string, data: unknown) => res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    send('job', {
      job_id: JOB_ID,
      status: 'running',
      hosts: ['web-01', 'web-02'],
      results: [],
      rollout: {
        ...stoppedAfterWave1,
        state: 'running',
        waves: [
          { ...stoppedAfterWave1.waves[0], state: 'running' },
          { ...stoppedAfterWave1.waves[1], state: 'pending' },
        ],
      },
    });
    if (feedsCutShort > 0) {
      feedsCutShort--;
      send('end', { reason: 'timeout' });
      return void res.end();
    }
    send('rollout', { event: 'wave_ended', wave: 1, state: 'failed', failed: ['web-01'], gate: 'healthy' });
    send('rollout', { event: 'stopped', reason: 'rollout stopped after wave 1 of 2', failures: 1 });
    send('end', { reason: 'settled', job: { job_id: JOB_ID, results: rows, rollout: stoppedAfterWave1 } });
    res.end();
  }

  beforeAll(async () => {
    server = createServer((req, res) => {
      requests.push({ method: req.method, url: new URL(req.url ?? '/', 'http://gateway'), headers: req.headers });
      if (req.url?.startsWith('/feed/job/') && feedRefused) {
        res.writeHead(403, { 'content-type': 'application/json' });
        return void res.end(
          JSON.stringify({ error: 'Forbidden - Insufficient permissions', details: 'job:read', code: 403, reason: 'permission_denied' }),
        );
      }
      if (req.url?.startsWith('/feed/job/')) return feed(res);
      if (req.url?.includes('async=true')) {
        res.writeHead(202, { 'content-type': 'application/json' });
        return void res.end(JSON.stringify({ job_id: JOB_ID, status: 'pending' }));
      }
      res.writeHead(409, { 'content-type': 'application/json' });
      const body = {
        error: 'rollout stopped',
        details: 'x',
        code: 409,
        reason: 'rollout_stopped',
        job_id: JOB_ID,
        results: rows,
        rollout: stoppedAfterWave1,
      };
      res.end(JSON.stringify(body));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  async function run(line: string): Promise<number | string | undefined> {
    const program = new Command().exitOverride().option('--url <url>').option('--api-key <key>').option('--json').option('--config <file>');
    registerNodeCommands(program);
    registerFleetApiCommands(program);
    const stdout = jest.spyOn(process.stdout, 'write').mockImplementation((chunk) => (printed.stdout += String(chunk)).length > 0);
    const stderr = jest.spyOn(process.stderr, 'write').mockImplementation((chunk) => (printed.stderr += String(chunk)).length > 0);
    requests.length = 0;
    Object.assign(printed, { stdout: '', stderr: '' });
    try {
      await program.parseAsync(['--url', url, '--api-key', 'k', ...line.split(' ')], { from: 'user' });
      return process.exitCode;
    } catch (err) {
      return exitCodeForError(err);
    } finally {
      stdout.mockRestore();
      stderr.mockRestore();
      process.exitCode = undefined;
    }
  }

  it('sends the wave flags as the query and --idempotency-key as the header', async () => {
    await run('container restart app --target _all --batch 1 --max-failures 0 --health healthy --idempotency-key k-1 --json');
    expect(requests).toHaveLength(1);
    expect(Object.fromEntries(requests[0].url.searchParams)).toEqual({ batch: '1', max_failures: '0', health: 'healthy' });
    expect(requests[0].headers['idempotency-key']).toBe('k-1');
  });

  it('--wait-for-host is a job control of a plain call: sent as wait_for_host, no rollout drawn from a feed', async () => {
    await run('container restart app --target role:edge --wait-for-host 600');
    expect(requests.map((request) => `${request.method} ${request.url.pathname}`)).toEqual([
      'POST /node/role:edge/container/docker/app/restart',
    ]);
    expect(Object.fromEntries(requests[0].url.searchParams)).toEqual({ wait_for_host: '600' });
  });

  it('table mode: starts it async, follows its feed with a line per event, then the rows with the skip reason; exit 7', async () => {
    const code = await run('container restart app --target _all --batch 1 --max-failures 0 --health healthy');
    expect(requests.map((request) => `${request.method} ${request.url.pathname}`)).toEqual([
      'POST /node/_all/container/docker/app/restart',
      `GET /feed/job/${JOB_ID}`,
    ]);
    expect(requests[0].url.searchParams.get('async')).toBe('true');
    const lines = printed.stdout.split('\n').map((line) => line.trimEnd());
    expect(lines.slice(0, 4)).toEqual([
      `rollout ${JOB_ID}: 2 host(s) in 2 wave(s), max_failures 0, gate healthy (steer it: fleet job pause|resume|abort ${JOB_ID})`,
      'wave 1/2  web-01  started',
      'wave 1/2  web-01  failed: web-01 (gate healthy)',
      'stopped: rollout stopped after wave 1 of 2',
    ]);
    expect(
      lines
        .slice(4)
        .find((line) => line.startsWith('web-02'))
        ?.split(/\s{2,}/),
    ).toEqual(['web-02', 'skipped', 'no', '2', 'rollout stopped after wave 1 of 2']);
    expect(code).toBe(EXIT.ROLLOUT_STOPPED);
  });

  it('a feed that times out while the rollout runs is opened again; what was drawn is not drawn twice', async () => {
    feedsCutShort = 1;
    const code = await run('container restart app --target _all --batch 1');
    expect(requests.map((request) => request.url.pathname)).toEqual([
      '/node/_all/container/docker/app/restart',
      `/feed/job/${JOB_ID}`,
      `/feed/job/${JOB_ID}`,
    ]);
    expect(printed.stdout.split('\n').filter((line) => line.startsWith('wave 1/2'))).toEqual([
      'wave 1/2  web-01  started',
      'wave 1/2  web-01  failed: web-01 (gate healthy)',
    ]);
    expect(code).toBe(EXIT.ROLLOUT_STOPPED);
  });

  it("docker's fleet run sends create's job controls, and its command still starts after the image", async () => {
    const argv = dockerArgv(
      'run -d --batch 1 --idempotency-key k-2 --target _all local/busybox:latest sleep 1'.split(' '),
      [],
      runOptions(),
    );
    expect(argv.slice(-4)).toEqual(['local/busybox:latest', '--', 'sleep', '1']);
    await run(['--json', ...argv].join(' '));
    expect(requests).toHaveLength(1);
    expect(Object.fromEntries(requests[0].url.searchParams)).toEqual({ batch: '1' });
    expect(requests[0].headers['idempotency-key']).toBe('k-2');
  });

  it('a feed it may not follow: the job it started is named on stderr, to be followed or aborted; exit 3', async () => {
    feedRefused = true;
    const code = await run('container restart app --target _all --batch 1').finally(() => (feedRefused = false));
    expect(code).toBe(EXIT.AUTH);
    expect(printed.stderr).toBe(
      `fleet: job ${JOB_ID} was started and goes on: fleet job get ${JOB_ID} --wait, fleet job abort ${JOB_ID}\n`,
    );
  });

  it('--json: the one synchronous call, its 409 body the only thing on stdout (the caller prints it); exit 7', async () => {
    const code = await run('container restart app --target _all --batch 1 --json');
    expect(requests).toHaveLength(1);
    expect(requests[0].url.searchParams.get('async')).toBeNull();
    expect(printed.stdout).toBe('');
    expect(code).toBe(EXIT.ROLLOUT_STOPPED);
  });
});
