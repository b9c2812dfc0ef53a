import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import jwt from 'jsonwebtoken';
import { ConflictError, NotFoundError, UnauthorizedError } from '@fleet/sdk';
import { registerTokenCommands } from './commands/token';
import { resolveConnection } from './context';
import { EXIT, exitCodeForError, exitCodeForRows, UsageError } from './exit';
import { flagName, kindOf } from './flags';
import { renderRows } from './output';
import { HostProgress } from './progress';

describe('exit codes', () => {
  it('0 only when every row is ok', () => {
    expect(exitCodeForRows([{ status: 'ok' }, { status: 'ok' }])).toBe(EXIT.OK);
    expect(exitCodeForRows([{ status: 'ok' }, { status: 'failed' }])).toBe(EXIT.HOST_FAILED);
    expect(exitCodeForRows([{ status: 'ok' }, { status: 'skipped' }])).toBe(EXIT.HOST_FAILED);
    expect(exitCodeForRows([{ status: 'ok' }, { status: 'running' }])).toBe(EXIT.NOT_FINISHED);
    expect(exitCodeForRows([{ status: 'ok' }, { status: 'waiting' }])).toBe(EXIT.NOT_FINISHED);
  });

  it('maps API errors by status; a single-host job failure is a host failure', () => {
    expect(exitCodeForError(new UnauthorizedError(401, { error: 'Unauthorized', details: 'x', code: 401 }))).toBe(EXIT.AUTH);
    expect(exitCodeForError(new NotFoundError(404, { error: 'no agent matches target', details: 'x', code: 404 }))).toBe(EXIT.NOT_FOUND);
    expect(exitCodeForError(new NotFoundError(404, { error: 'No such container', details: 'x', code: 404, job_id: 'j' }))).toBe(
      EXIT.HOST_FAILED,
    );
    expect(exitCodeForError(new ConflictError(409, { error: 'Conflict', details: 'x', code: 409 }))).toBe(EXIT.ERROR);
    expect(exitCodeForError(new Error('boom'))).toBe(EXIT.ERROR);
  });
});

describe('connection', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'fleet-cli-'));
  const file = path.join(dir, 'config.json');
  writeFileSync(file, JSON.stringify({ url: 'http://file:1', apiKey: 'file-key' }));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('takes flags over the environment over the config file', () => {
    expect(resolveConnection({ config: file }, {})).toEqual({ url: 'http://file:1', apiKey: 'file-key' });
    expect(resolveConnection({ config: file }, { FLEET_API_KEY: 'env-key' })).toEqual({ url: 'http://file:1', apiKey: 'env-key' });
    expect(
      resolveConnection(
        { config: file, apiKey: 'flag-key', url: 'http://flag:2' },
        { FLEET_API_KEY: 'env-key', FLEET_URL: 'http://env:3' },
      ),
    ).toEqual({
      url: 'http://flag:2',
      apiKey: 'flag-key',
    });
    expect(resolveConnection({}, { FLEET_CONFIG: file, FLEET_URL: 'http://env:3' })).toEqual({ url: 'http://env:3', apiKey: 'file-key' });
  });

  it('refuses a config file that was named but is missing or broken', () => {
    expect(() => resolveConnection({ config: path.join(dir, 'nope.json') }, {})).toThrow(/does not exist/);
    writeFileSync(path.join(dir, 'bad.json'), '{');
    expect(() => resolveConnection({ config: path.join(dir, 'bad.json') }, {})).toThrow(/not valid JSON/);
  });
});

describe('flags from the contract', () => {
  it('names and kinds', () => {
    expect(['auto_start', 'fromImage', 'X-Registry-Auth', 'ps_args'].map(flagName)).toEqual([
      'auto-start',
      'from-image',
      'registry-auth',
      'ps-args',
    ]);
    expect(kindOf({ type: 'array', items: { type: 'string' } })).toBe('strings');
    expect(kindOf({ type: 'object', additionalProperties: { type: 'string' } })).toBe('map');
    expect(kindOf({ type: 'object', properties: { name: { type: 'string' } } })).toBe('complex');
    expect(kindOf({ type: 'object' }, true)).toBe('json');
  });
});

describe('human output', () => {
  it('lists items of every host in one table and the failed hosts after it', () => {
    const text = renderRows([
      {
        hostname: 'web-01',
        status: 'ok',
        changed: false,
        containers: [{ Id: 'abcdef0123456789', Names: ['/app'], Image: 'busybox', State: 'running', Status: 'Up' }],
      },
      { hostname: 'web-02', status: 'failed', changed: false, error: 'docker engine unavailable', error_code: 502 },
    ]);
    expect(text.split('\n').map((line) => line.split(/\s{2,}/))).toEqual([
      ['HOST', 'CONTAINER ID', 'NAMES', 'IMAGE', 'STATE', 'STATUS'],
      ['web-01', 'abcdef012345', 'app', 'busybox', 'running', 'Up'],
      [''],
      ['HOST', 'STATUS', 'CHANGED', 'DETAIL'],
      ['web-02', 'failed', 'no', 'docker engine unavailable (502)'],
      [''],
    ]);
  });

  it("says in the detail when the agent cut a row's output, and shows the byte counts as no column", () => {
    const text = renderRows([
      {
        hostname: 'web-01',
        status: 'ok',
        changed: true,
        exit_code: 0,
        stdout: 'x',
        stderr: '',
        stdout_bytes: 20000000,
        stderr_bytes: 0,
        truncated: true,
        message: 'exited with 0',
      },
      {
        hostname: 'web-02',
        status: 'ok',
        changed: true,
        exit_code: 0,
        stdout: 'y',
        stderr: '',
        stdout_bytes: 1,
        stderr_bytes: 0,
        message: 'exited with 0',
      },
    ] as never);
    const [head, first, second] = text.split('\n').map((line) => line.split(/\s{2,}/));
    expect(head).toEqual(['HOST', 'STATUS', 'CHANGED', 'EXIT_CODE', 'DETAIL']);
    expect(first).toEqual(['web-01', 'ok', 'yes', '0', 'exited with 0 (output cut: 20000000 bytes of stdout, 0 of stderr seen)']);
    expect(second).toEqual(['web-02', 'ok', 'yes', '0', 'exited with 0']);
  });
});

describe('progress', () => {
  function output(isTTY: boolean) {
    const written: string[] = [];
    return { written, out: { isTTY, columns: 80, write: (text: string) => written.push(text) } };
  }

  it('on a TTY keeps one line per host and rewrites the block in place', () => {
    const { written, out } = output(true);
    let now = 0;
    const progress = new HostProgress(out, () => now);
    progress.handle({ event: 'job', data: { hosts: ['web-01', 'web-02'] } });
    now += 500;
    progress.handle({ event: 'progress', data: { hostname: 'web-02', status: 'Downloading', id: 'a1b2', progress: '[==>  ] 1MB/3MB' } });
    progress.finish([
      { hostname: 'web-01', status: 'ok', message: 'Status: Image is up to date' },
      { hostname: 'web-02', status: 'failed', error: 'manifest unknown' },
    ]);
    expect(written[0]).toBe('\x1b[2Kweb-01  waiting\n\x1b[2Kweb-02  waiting\n');
    expect(written[1]).toBe('\x1b[2A\x1b[2Kweb-01  waiting\n\x1b[2Kweb-02  Downloading a1b2 [==>  ] 1MB/3MB\n');
    expect(written[2]).toBe('\x1b[2A\x1b[2Kweb-01  done: Status: Image is up to date\n\x1b[2Kweb-02  failed: manifest unknown\n');
  });

  it('elsewhere writes a plain line per new status of a host', () => {
    const { written, out } = output(false);
    const progress = new HostProgress(out);
    progress.handle({ event: 'job', data: { hosts: ['web-01'] } });
    for (const bytes of ['1MB', '2MB'])
      progress.handle({ event: 'progress', data: { hostname: 'web-01', status: 'Downloading', id: 'a1b2', progress: bytes } });
    progress.handle({ event: 'progress', data: { hostname: 'web-01', status: 'Pull complete', id: 'a1b2' } });
    expect(progress.handle({ event: 'docker', data: {} })).toBe(false);
    expect(written).toEqual(['web-01: Downloading a1b2\n', 'web-01: Pull complete a1b2\n']);
  });
});

describe('fleet token create', () => {
  const secret = 'cli-test-signing-secret-0123456789abcdef';
  const run = async (args: string[]) => {
    const program = new Command().exitOverride();
    registerTokenCommands(program);
    const written: string[] = [];
    const write = jest.spyOn(process.stdout, 'write').mockImplementation((chunk) => written.push(String(chunk)) > 0);
    const previous = process.env.FLEET_JWT_SECRET;
    process.env.FLEET_JWT_SECRET = secret;
    try {
      await program.parseAsync(['token', 'create', '--role', 'viewer', ...args], { from: 'user' });
      return written.join('');
    } finally {
      write.mockRestore();
      if (previous === undefined) delete process.env.FLEET_JWT_SECRET;
      else process.env.FLEET_JWT_SECRET = previous;
    }
  };

  it.each(['two words', 'a/b', 'x'.repeat(257), 'tab\there', 'ünicode', 'semi;colon'])(
    'refuses the subject %j as POST /token does, minting nothing',
    async (subject) => {
      await expect(run(['--subject', subject])).rejects.toThrow(UsageError);
      await expect(run(['--subject', subject])).rejects.toThrow('the subject must be 1 to 256 characters');
    },
  );

  it('mints a key for a subject POST /token accepts', async () => {
    const key = (await run(['--subject', 'ci-pipeline@web.eu:1'])).trim();
    expect(jwt.decode(key)).toMatchObject({ sub: 'ci-pipeline@web.eu:1', role: 'viewer' });
  });
});
