import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Command, Option } from 'commander';
import { registerNodeCommands } from './commands/node';
import { runOptions } from './commands/run';
import { dockerArgv, filtersFrom, memoryBytes, nanoCpus, publishedPort, restartPolicy, runRequest } from './docker';
import { UsageError } from './exit';
import { renderIds } from './output';

describe("docker's values as the contract's", () => {
  it('-f key=value, repeated, as the Engine filters map, added to --filters', () => {
    expect(filtersFrom(['status=running', 'label=team=core', 'status=exited'])).toEqual({
      status: ['running', 'exited'],
      label: ['team=core'],
    });
    expect(filtersFrom(['status=running'], { status: ['created'], name: ['app'] })).toEqual({
      status: ['created', 'running'],
      name: ['app'],
    });
    expect(() => filtersFrom(['running'])).toThrow(UsageError);
    expect(() => filtersFrom(['=running'])).toThrow("filter '=running': expected key=value");
  });

  it.each([
    ['80', ['80/tcp', '']],
    ['8080:80', ['80/tcp', '8080']],
    ['127.0.0.1:8080:80', ['80/tcp', '127.0.0.1:8080']],
    ['127.0.0.1::80', ['80/tcp', '127.0.0.1:']],
    ['5353:53/udp', ['53/udp', '5353']],
  ])('-p %s publishes %j', (spec, expected) => {
    expect(publishedPort(spec)).toEqual(expected);
  });

  it.each(['8000-8010:80', '[::1]:8080:80', 'http', '80/icmp', '1:2:3:4'])('-p %s is refused with the form it takes', (spec) => {
    expect(() => publishedPort(spec)).toThrow(`-p ${spec}: expected [ip:][hostPort:]containerPort[/tcp|udp|sctp]`);
  });

  it('--restart, -m and --cpus as docker reads them', () => {
    expect(restartPolicy('unless-stopped')).toEqual({ name: 'unless-stopped' });
    expect(restartPolicy('on-failure:3')).toEqual({ name: 'on-failure', maximum_retry_count: 3 });
    expect(() => restartPolicy('always:3')).toThrow(UsageError);
    expect(() => restartPolicy('sometimes')).toThrow('--restart sometimes: expected no, always, unless-stopped or on-failure');
    expect(['512', '64k', '64m', '1g', '1.5GB'].map(memoryBytes)).toEqual([512, 65536, 67108864, 1073741824, 1610612736]);
    expect(() => memoryBytes('lots')).toThrow(UsageError);
    expect([nanoCpus('0.5'), nanoCpus('2')]).toEqual([500_000_000, 2_000_000_000]);
    expect(() => nanoCpus('-1')).toThrow(UsageError);
  });
});

describe('fleet container run: the create body', () => {
  it('fills the contract fields from docker run flags, started once created', () => {
    const body = runRequest(
      {
        detach: true,
        name: 'web',
        env: ['A=1', 'B=x=y', 'FROM_HERE', 'UNSET_HERE'],
        publish: ['8080:80', '127.0.0.1::53/udp'],
        volume: ['data:/data', '/srv/conf:/etc/app:ro', '/cache'],
        label: ['team=core', 'flag'],
        restart: 'on-failure:2',
        workdir: '/app',
        user: '1000:1000',
        network: 'backend',
        entrypoint: 'sh',
        memory: '64m',
        cpus: '0.5',
      },
      'local/busybox:latest',
      ['-c', 'sleep 60'],
      { FROM_HERE: 'here' },
    );
    expect(body).toEqual({
      image: 'local/busybox:latest',
      auto_start: true,
      name: 'web',
      cmd: ['-c', 'sleep 60'],
      entrypoint: ['sh'],
      env: { A: '1', B: 'x=y', FROM_HERE: 'here' },
      labels: { team: 'core', flag: '' },
      ports: { '80/tcp': '8080', '53/udp': '127.0.0.1:' },
      binds: ['data:/data', '/srv/conf:/etc/app:ro'],
      volumes: ['/cache'],
      restart_policy: { name: 'on-failure', maximum_retry_count: 2 },
      working_dir: '/app',
      user: '1000:1000',
      network: 'backend',
      memory: 67108864,
      nano_cpus: 500_000_000,
    });
  });

  it("leaves out what was not given: the image's own command", () => {
    expect(runRequest({ detach: true }, 'local/busybox:latest', [])).toEqual({ image: 'local/busybox:latest', auto_start: true });
  });

  it('refuses what has no meaning on the target hosts or twice', () => {
    expect(() => runRequest({ volume: ['./data:/data'] }, 'i', [])).toThrow('-v ./data:/data: a host path is absolute');
    expect(() => runRequest({ volume: ['data'] }, 'i', [])).toThrow('-v data: a container path starts with /');
    expect(() => runRequest({ publish: ['8080:80', '8081:80'] }, 'i', [])).toThrow('-p: 80/tcp is published twice');
    expect(() => runRequest({ env: ['=x'] }, 'i', [])).toThrow(UsageError);
  });
});

describe('the command line in docker shapes', () => {
  const globals = [new Option('--url <url>'), new Option('--json'), new Option('--format <format>')];
  const argv = (line: string) => dockerArgv(line.split(' '), globals, runOptions());

  it('ps and images are the commands they stand for, after global options', () => {
    expect(argv('ps -a -q --target _all')).toEqual(['container', 'ls', '-a', '-q', '--target', '_all']);
    expect(argv('--url http://x:1 --json images -q --target web-01')).toEqual(
      '--url http://x:1 --json image ls -q --target web-01'.split(' '),
    );
    expect(argv('container ps')).toEqual(['container', 'ps']);
    expect(argv('rmi -f local/app:1 --target _all')).toEqual('image rm -f local/app:1 --target _all'.split(' '));
    expect(argv('--json exec --target web-01 app -- ls -l')).toEqual('--json container exec --target web-01 app -- ls -l'.split(' '));
  });

  it("container run ends fleet's options after the image, so the command keeps its own flags", () => {
    expect(argv('container run -d --name app -e A=1 --target _all local/busybox sh -c exit')).toEqual([
      'container',
      'run',
      '-d',
      '--name',
      'app',
      '-e',
      'A=1',
      '--target',
      '_all',
      'local/busybox',
      '--',
      'sh',
      '-c',
      'exit',
    ]);
    const combined = 'container run -de A=1 -p 80 --target=_all img';
    expect(argv(`${combined} -q`)).toEqual(`${combined} -- -q`.split(' '));
    expect(argv('container run -d img -- ls -l')).toEqual(['container', 'run', '-d', 'img', '--', 'ls', '-l']);
    expect(argv('container run -d --target _all img')).toEqual(['container', 'run', '-d', '--target', '_all', 'img']);
    expect(argv('run -d --target _all img sh -c x')).toEqual('container run -d --target _all img -- sh -c x'.split(' '));
  });
});

describe('-q', () => {
  const rows = [
    { hostname: 'web-01', status: 'ok', changed: false, containers: [{ Id: '0123456789abcdef0123' }, { Id: 'fedcba9876543210fedc' }] },
    { hostname: 'web-02', status: 'ok', changed: false, images: [{ Id: 'sha256:aaaabbbbccccdddd' }] },
    { hostname: 'web-03', status: 'failed', changed: false, error: 'docker engine unavailable' },
  ];

  it('prints the short ids alone for one host, after their host and a tab for many', () => {
    expect(renderIds(rows.slice(0, 1) as never, false)).toBe('0123456789ab\nfedcba987654\n');
    expect(renderIds(rows as never, true)).toBe('web-01\t0123456789ab\nweb-01\tfedcba987654\nweb-02\taaaabbbbcccc\n');
  });
});

describe('node commands with docker flags, as sent to the gateway', () => {
  let server: Server;
  let url: string;
  const requests: Array<{ method?: string; url: URL; body: unknown }> = [];
  /** The rows the fake gateway answers with. */
  let results: unknown[] = [];
  const printed = { stdout: '', stderr: '', exitCode: undefined as number | string | undefined };

  beforeAll(async () => {
    server = createServer((req: IncomingMessage, res) => {
      let text = '';
      req.on('data', (chunk: Buffer) => (text += chunk.toString()));
      req.on('end', () => {
        requests.push({ method: req.method, url: new URL(req.url ?? '/', 'http://gateway'), body: text ? JSON.parse(text) : undefined });
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ job_id: '550e8400-e29b-41d4-a716-446655440000', results }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  /** The request `fleet <line>` sends (arguments split on spaces). */
  async function sent(line: string) {
    const args = line.split(' ');
    const program = new Command().exitOverride().option('--url <url>').option('--api-key <key>').option('--json').option('--config <file>');
    registerNodeCommands(program);
    const stdout = jest.spyOn(process.stdout, 'write').mockImplementation((chunk) => (printed.stdout += String(chunk)).length > 0);
    const stderr = jest.spyOn(process.stderr, 'write').mockImplementation((chunk) => (printed.stderr += String(chunk)).length > 0);
    requests.length = 0;
    Object.assign(printed, { stdout: '', stderr: '', exitCode: undefined });
    try {
      await program.parseAsync(['--url', url, '--api-key', 'k', ...args], { from: 'user' });
    } finally {
      stdout.mockRestore();
      stderr.mockRestore();
      printed.exitCode = process.exitCode;
      process.exitCode = undefined;
    }
    expect(requests).toHaveLength(1);
    return requests[0];
  }

  beforeEach(() => {
    results = [{ hostname: 'web-01', status: 'ok', changed: false, containers: [] }];
  });

  it('ls -a -n 5 -f status=running -f label=team=core', async () => {
    const request = await sent('container ls -a -n 5 -f status=running -f label=team=core --target role:web');
    expect(request.url.pathname).toBe('/node/role:web/container/docker');
    expect(Object.fromEntries(request.url.searchParams)).toEqual({
      all: 'true',
      limit: '5',
      filters: '{"status":["running"],"label":["team=core"]}',
    });
  });

  it("--last is docker's --limit; --filter adds to --filters", async () => {
    const request = await sent('container ls --last 2 --filters {"name":["app"]} --filter name=db --target _all');
    expect(Object.fromEntries(request.url.searchParams)).toEqual({ limit: '2', filters: '{"name":["app","db"]}' });
  });

  it('rm -f -v, stop -t 5, logs -n 10 -t, images -a', async () => {
    const query = async (line: string) => Object.fromEntries((await sent(line)).url.searchParams);
    expect(await query('container rm -f -v app --target web-01')).toEqual({ force: 'true', v: 'true' });
    expect(await query('container stop -t 5 app --target web-01')).toEqual({ t: '5' });
    expect(await query('container stop --time 7 app --target web-01')).toEqual({ t: '7' });
    expect(await query('container logs -n 10 -t app --target web-01')).toEqual({ tail: '10', timestamps: 'true' });
    expect(await query('image ls -a --target web-01')).toEqual({ all: 'true' });
  });

  it('exec -e -w -u fill the body; -it is refused with why, sending nothing', async () => {
    const request = await sent('container exec -e A=1 -w /tmp -u nobody app --target web-01 -- ls');
    expect(request.body).toEqual({ cmd: ['ls'], env: { A: '1' }, workdir: '/tmp', user: 'nobody' });
    await expect(sent('container exec -it app --target web-01 -- sh')).rejects.toThrow('--interactive: fleet runs the command');
    expect(requests).toHaveLength(0);
  });

  it('container run -d: one create with auto_start; without -d, or with --rm, nothing is sent', async () => {
    const request = await sent('container run -d --name app -p 8080:80 --target _all local/busybox:latest -- sleep 60');
    expect(request.method).toBe('POST');
    expect(request.url.pathname).toBe('/node/_all/container/docker');
    const body = { image: 'local/busybox:latest', auto_start: true, name: 'app', cmd: ['sleep', '60'], ports: { '80/tcp': '8080' } };
    expect(request.body).toEqual(body);
    await expect(sent('container run --target _all local/busybox:latest')).rejects.toThrow('add -d');
    const rm = sent('container run -d --rm --target _all local/busybox:latest');
    await expect(rm).rejects.toThrow("--rm: the contract's create has no auto-remove");
    expect(requests).toHaveLength(0);
  });

  it('-q: ids after their host for a selector, a failed host on stderr and exit 1; alone for a hostname', async () => {
    results = [
      { hostname: 'web-01', status: 'ok', changed: false, containers: [{ Id: '0123456789abcdef0123' }] },
      { hostname: 'web-02', status: 'failed', changed: false, error: 'docker engine unavailable', error_code: 502 },
    ];
    await sent('container ls -q --target role:web');
    expect(printed).toEqual({
      stdout: 'web-01\t0123456789ab\n',
      stderr: 'fleet: web-02: failed: docker engine unavailable\n',
      exitCode: 1,
    });
    results = results.slice(0, 1);
    await sent('container ls -q --target web-01');
    expect(printed).toEqual({ stdout: '0123456789ab\n', stderr: '', exitCode: 0 });
  });
});
