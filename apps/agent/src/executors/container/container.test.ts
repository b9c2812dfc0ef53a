import { Readable } from 'node:stream';
import { contextOf, engineError, fakeEngine, frame, runExecutor } from '../fake-engine';
import { containerArchiveGet } from './archive-get';
import { containerArchivePut } from './archive-put';
import { containerChanges } from './changes';
import { containerCommit } from './commit';
import { containerCreate } from './create';
import { containerExec } from './exec';
import { containerExport } from './export';
import { containerInspect } from './inspect';
import { containerKill } from './kill';
import { containerList } from './list';
import { containerLogs } from './logs';
import { containerPause } from './pause';
import { containerPrune } from './prune';
import { containerRemove } from './remove';
import { containerRename } from './rename';
import { containerRestart } from './restart';
import { containerStart } from './start';
import { containerStats } from './stats';
import { containerStop } from './stop';
import { containerTop } from './top';
import { containerUnpause } from './unpause';
import { containerUpdate } from './update';
import { containerWait } from './wait';

const aSignal = expect.any(AbortSignal);

/** Collects what an executor sends as the job's file answer. */
function fileSink() {
  const sent: Array<{ bytes: string; headers: Record<string, string> }> = [];
  const sendFile = async (source: AsyncIterable<Buffer>, headers: Record<string, string> = {}) => {
    const chunks: Buffer[] = [];
    for await (const chunk of source) chunks.push(chunk);
    sent.push({ bytes: Buffer.concat(chunks).toString(), headers });
    return Buffer.concat(chunks).length;
  };
  return { sent, sendFile };
}

describe('docker.container.list', () => {
  it('hands the filters to the engine as JSON and reports its containers', async () => {
    const engine = fakeEngine({ listContainers: () => [{ Id: 'c1', Names: ['/web'] }] });
    const outcome = await containerList({ all: true, filters: { label: ['app=web'] } } as never, contextOf(engine.docker));
    expect(engine.calls).toEqual([
      { call: 'listContainers', args: [{ all: true, limit: undefined, size: undefined, filters: '{"label":["app=web"]}' }] },
    ]);
    expect(outcome).toEqual({ changed: false, message: '1 containers', containers: [{ Id: 'c1', Names: ['/web'] }] });
  });
});

describe('docker.container.create', () => {
  it('translates the contract body to the Engine config and starts it when asked', async () => {
    const engine = fakeEngine({
      createContainer: () => engine.handle('container', 'c1', { id: 'c1' }),
      'container.start': () => undefined,
    });
    const body = {
      image: 'local/busybox',
      name: 'web',
      cmd: ['sleep', '60'],
      env: { A: '1' },
      labels: { app: 'web' },
      ports: { '80': '127.0.0.1:8080' },
      volumes: ['/data'],
      memory: 64 * 1024 * 1024,
      restart_policy: { name: 'on-failure' as const, maximum_retry_count: 2 },
      network: 'bridge',
      auto_start: true,
    };
    const outcome = await containerCreate({ body }, contextOf(engine.docker));
    expect(engine.calls).toEqual([
      {
        call: 'createContainer',
        args: [
          {
            Image: 'local/busybox',
            name: 'web',
            Cmd: ['sleep', '60'],
            Entrypoint: undefined,
            Env: ['A=1'],
            Labels: { app: 'web' },
            WorkingDir: undefined,
            User: undefined,
            Hostname: undefined,
            ExposedPorts: { '80/tcp': {} },
            Volumes: { '/data': {} },
            HostConfig: {
              Memory: 64 * 1024 * 1024,
              RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 2 },
              PortBindings: { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '8080' }] },
              Binds: undefined,
              NetworkMode: 'bridge',
            },
          },
        ],
      },
      { call: 'container(c1).start', args: [] },
    ]);
    expect(outcome).toEqual({ changed: true, id: 'c1', message: 'container created and started' });
  });

  it('does not start the container unless asked', async () => {
    const engine = fakeEngine({ createContainer: () => engine.handle('container', 'c2', { id: 'c2' }) });
    expect(await containerCreate({ body: { image: 'local/busybox' } }, contextOf(engine.docker))).toEqual({
      changed: true,
      id: 'c2',
      message: 'container created',
    });
    expect(engine.calls.map((c) => c.call)).toEqual(['createContainer']);
  });
});

describe('docker.container.inspect', () => {
  it("reports the engine's inspect under its full id", async () => {
    const inspected = { Id: 'f'.repeat(64), Name: '/web', State: { Running: true } };
    const engine = fakeEngine({ 'container.inspect': () => inspected });
    expect(await containerInspect({ id: 'web' }, contextOf(engine.docker))).toEqual({
      changed: false,
      id: 'f'.repeat(64),
      container: inspected,
    });
    expect(engine.calls).toEqual([{ call: 'container(web).inspect', args: [] }]);
  });
});

describe('docker.container.start', () => {
  it('starts the container', async () => {
    const { outcome, calls } = await runExecutor(containerStart, { id: 'web' }, { 'container.start': () => undefined });
    expect(outcome).toEqual({ changed: true, id: 'web', message: 'container started' });
    expect(calls).toEqual([{ call: 'container(web).start', args: [] }]);
  });

  it('a container the engine says is already running (304) is not changed; other errors fail the row', async () => {
    const running = fakeEngine({ 'container.start': () => Promise.reject(engineError(304, 'container already started')) });
    expect(await containerStart({ id: 'web' }, contextOf(running.docker))).toEqual({
      changed: false,
      id: 'web',
      message: 'container already running',
    });
    const absent = fakeEngine({ 'container.start': () => Promise.reject(engineError(404, 'No such container: web')) });
    await expect(containerStart({ id: 'web' }, contextOf(absent.docker))).rejects.toMatchObject({ statusCode: 404 });
  });
});

describe('docker.container.stop', () => {
  it('passes the grace period on and reports the stop', async () => {
    const { outcome, calls } = await runExecutor(containerStop, { id: 'web', t: 3 }, { 'container.stop': () => undefined });
    expect(outcome).toEqual({ changed: true, id: 'web', message: 'container stopped' });
    expect(calls).toEqual([{ call: 'container(web).stop', args: [{ t: 3 }] }]);
  });

  it('a container the engine says is already stopped (304) is not changed', async () => {
    const { outcome, calls } = await runExecutor(
      containerStop,
      { id: 'web' },
      { 'container.stop': () => Promise.reject(engineError(304, 'container already stopped')) },
    );
    expect(outcome).toEqual({ changed: false, id: 'web', message: 'container already stopped' });
    expect(calls).toEqual([{ call: 'container(web).stop', args: [{}] }]);
  });
});

describe('docker.container.remove', () => {
  it('passes force and v on', async () => {
    const { outcome, calls } = await runExecutor(
      containerRemove,
      { id: 'web', force: true, v: true },
      { 'container.remove': () => undefined },
    );
    expect(outcome).toEqual({ changed: true, id: 'web', message: 'container removed' });
    expect(calls).toEqual([{ call: 'container(web).remove', args: [{ force: true, v: true }] }]);
  });
});

describe('docker.container.restart', () => {
  it('passes the grace period on only when given', async () => {
    const engine = fakeEngine({ 'container.restart': () => undefined });
    expect(await containerRestart({ id: 'web', t: 0 }, contextOf(engine.docker))).toEqual({
      changed: true,
      id: 'web',
      message: 'container restarted',
    });
    await containerRestart({ id: 'api' }, contextOf(engine.docker));
    expect(engine.calls).toEqual([
      { call: 'container(web).restart', args: [{ t: 0 }] },
      { call: 'container(api).restart', args: [{}] },
    ]);
  });
});

describe('docker.container.kill', () => {
  it('sends the signal asked for, and says SIGKILL when none was', async () => {
    const engine = fakeEngine({ 'container.kill': () => undefined });
    expect(await containerKill({ id: 'web', signal: 'SIGHUP' }, contextOf(engine.docker))).toEqual({
      changed: true,
      id: 'web',
      message: 'sent SIGHUP',
    });
    expect(await containerKill({ id: 'web' }, contextOf(engine.docker))).toEqual({ changed: true, id: 'web', message: 'sent SIGKILL' });
    expect(engine.calls).toEqual([
      { call: 'container(web).kill', args: [{ signal: 'SIGHUP' }] },
      { call: 'container(web).kill', args: [{}] },
    ]);
  });

  it("a container that is not running (409) fails the row with the engine's error", async () => {
    const engine = fakeEngine({ 'container.kill': () => Promise.reject(engineError(409, 'container web is not running')) });
    await expect(containerKill({ id: 'web' }, contextOf(engine.docker))).rejects.toMatchObject({ statusCode: 409 });
  });
});

describe('docker.container.pause', () => {
  it('pauses the container', async () => {
    const { outcome, calls } = await runExecutor(containerPause, { id: 'web' }, { 'container.pause': () => undefined });
    expect(outcome).toEqual({ changed: true, id: 'web', message: 'container paused' });
    expect(calls).toEqual([{ call: 'container(web).pause', args: [] }]);
  });
});

describe('docker.container.unpause', () => {
  it('unpauses the container', async () => {
    const { outcome, calls } = await runExecutor(containerUnpause, { id: 'web' }, { 'container.unpause': () => undefined });
    expect(outcome).toEqual({ changed: true, id: 'web', message: 'container unpaused' });
    expect(calls).toEqual([{ call: 'container(web).unpause', args: [] }]);
  });
});

describe('docker.container.rename', () => {
  it("renames, and the row's id is the new name without its slash", async () => {
    const { outcome, calls } = await runExecutor(containerRename, { id: 'web', name: '/web-2' }, { 'container.rename': () => undefined });
    expect(outcome).toEqual({ changed: true, id: 'web-2', message: 'container web renamed to /web-2' });
    expect(calls).toEqual([{ call: 'container(web).rename', args: [{ name: '/web-2' }] }]);
  });
});

describe('docker.container.update', () => {
  it("sends the Engine's HostConfig names and is changed when the settings differ afterwards", async () => {
    let memory = 0;
    const engine = fakeEngine({
      'container.inspect': () => ({ HostConfig: { Memory: memory, PidsLimit: 100 } }),
      'container.update': (update: { Memory: number }) => ((memory = update.Memory), { Warnings: null }),
    });
    const outcome = await containerUpdate({ id: 'web', body: { memory: 128, pids_limit: 100 } }, contextOf(engine.docker));
    expect(engine.calls).toEqual([
      { call: 'container(web).inspect', args: [] },
      { call: 'container(web).update', args: [{ Memory: 128, PidsLimit: 100 }] },
      { call: 'container(web).inspect', args: [] },
    ]);
    expect(outcome).toEqual({ changed: true, id: 'web', message: 'container updated', warnings: [] });
  });

  it("an update that sets what is already there is not changed, and the engine's warnings are kept", async () => {
    const engine = fakeEngine({
      'container.inspect': () => ({ HostConfig: { Memory: 128 } }),
      'container.update': () => ({ Warnings: ['no swap limit'] }),
    });
    const outcome = await containerUpdate({ id: 'web', body: { memory: 128 } }, contextOf(engine.docker));
    expect(outcome).toEqual({ changed: false, id: 'web', message: 'container already had these settings', warnings: ['no swap limit'] });
  });
});

describe('docker.container.logs', () => {
  it('without follow: dials the logs as a stream and splits stdout from stderr', async () => {
    const engine = fakeEngine({ 'modem.dial': () => Readable.from([frame(1, 'hello\n'), frame(2, 'oops\n')]) });
    const outcome = await containerLogs({ id: 'web', tail: '10', timestamps: true }, contextOf(engine.docker));
    expect(engine.calls).toEqual([
      {
        call: 'modem.dial',
        args: [
          {
            path: '/containers/web/logs?',
            method: 'GET',
            options: {
              stdout: true,
              stderr: true,
              since: undefined,
              until: undefined,
              timestamps: true,
              tail: 10,
              abortSignal: aSignal,
              follow: false,
            },
          },
        ],
      },
    ]);
    expect(outcome).toEqual({ changed: false, id: 'web', stdout: 'hello\n', stderr: 'oops\n', stdout_bytes: 6, stderr_bytes: 5 });
  });

  it("with follow: emits each chunk as its stream's event and keeps none in the row", async () => {
    const engine = fakeEngine({ 'container.logs': () => Readable.from([frame(1, 'a'), frame(2, 'b')]) });
    const emitted: unknown[] = [];
    const ctx = contextOf(engine.docker, { emit: (event, data) => emitted.push([event, data]) });
    expect(await containerLogs({ id: 'web', follow: true, tail: 'all' }, ctx)).toEqual({
      changed: false,
      id: 'web',
      message: 'log stream ended',
    });
    expect(engine.calls).toEqual([
      {
        call: 'container(web).logs',
        args: [
          {
            stdout: true,
            stderr: true,
            since: undefined,
            until: undefined,
            timestamps: undefined,
            tail: undefined,
            abortSignal: aSignal,
            follow: true,
          },
        ],
      },
    ]);
    expect(emitted).toEqual([
      ['stdout', { text: 'a' }],
      ['stderr', { text: 'b' }],
    ]);
  });
});

describe('docker.container.top', () => {
  it('passes ps_args on and reports titles and processes; a container with none reports empty lists', async () => {
    const engine = fakeEngine({
      'container(web).top': () => ({ Titles: ['PID', 'CMD'], Processes: [['1', 'sleep']] }),
      'container(idle).top': () => ({ Titles: ['PID'], Processes: null }),
    });
    expect(await containerTop({ id: 'web', ps_args: 'aux' }, contextOf(engine.docker))).toEqual({
      changed: false,
      id: 'web',
      titles: ['PID', 'CMD'],
      processes: [['1', 'sleep']],
    });
    expect(await containerTop({ id: 'idle' }, contextOf(engine.docker))).toEqual({
      changed: false,
      id: 'idle',
      titles: ['PID'],
      processes: [],
    });
    expect(engine.calls).toEqual([
      { call: 'container(web).top', args: [{ ps_args: 'aux' }] },
      { call: 'container(idle).top', args: [{}] },
    ]);
  });
});

describe('docker.container.stats', () => {
  it('one sample: asks without a stream and reports it', async () => {
    const { outcome, calls } = await runExecutor(
      containerStats,
      { id: 'web' },
      { 'container.stats': () => ({ read: 't', memory_stats: { usage: 1 } }) },
    );
    expect(outcome).toEqual({ changed: false, id: 'web', stats: { read: 't', memory_stats: { usage: 1 } } });
    expect(calls).toEqual([{ call: 'container(web).stats', args: [{ stream: false }] }]);
  });

  it('streamed: emits each sample as a stats event and counts them', async () => {
    const engine = fakeEngine({ 'container.stats': () => Readable.from(['{"n":1}\n{"n":2}\n']) });
    const emitted: unknown[] = [];
    const ctx = contextOf(engine.docker, { emit: (event, data) => emitted.push([event, data]) });
    expect(await containerStats({ id: 'web', stream: true }, ctx)).toEqual({ changed: false, id: 'web', message: '2 samples', samples: 2 });
    expect(engine.calls).toEqual([{ call: 'container(web).stats', args: [{ stream: true }] }]);
    expect(emitted).toEqual([
      ['stats', { n: 1 }],
      ['stats', { n: 2 }],
    ]);
  });
});

describe('docker.container.changes', () => {
  it("reports the changed paths; the engine's null is none", async () => {
    const engine = fakeEngine({ 'container(web).changes': () => [{ Path: '/tmp', Kind: 0 }], 'container(new).changes': () => null });
    expect(await containerChanges({ id: 'web' }, contextOf(engine.docker))).toEqual({
      changed: false,
      id: 'web',
      message: '1 paths changed',
      changes: [{ Path: '/tmp', Kind: 0 }],
    });
    expect(await containerChanges({ id: 'new' }, contextOf(engine.docker))).toEqual({
      changed: false,
      id: 'new',
      message: '0 paths changed',
      changes: [],
    });
    expect(engine.calls.map((c) => c.call)).toEqual(['container(web).changes', 'container(new).changes']);
  });
});

describe('docker.container.wait', () => {
  it("waits for the condition under the job's signal and reports the exit code", async () => {
    const engine = fakeEngine({ 'container.wait': () => ({ StatusCode: 3 }) });
    expect(await containerWait({ id: 'job', condition: 'not-running' }, contextOf(engine.docker))).toEqual({
      changed: false,
      id: 'job',
      exit_code: 3,
      message: 'exited with 3',
    });
    expect(engine.calls).toEqual([{ call: 'container(job).wait', args: [{ condition: 'not-running', abortSignal: aSignal }] }]);
  });
});

describe('docker.container.exec', () => {
  it('creates the exec with the command and env, collects its output and asks for the exit code until it is known', async () => {
    let inspections = 0;
    const engine = fakeEngine({
      'container.exec': () => engine.handle('exec', 'e1'),
      'exec.start': () => Readable.from([frame(1, 'out'), frame(2, 'err')]),
      'exec.inspect': () => (++inspections < 2 ? { Running: true, ExitCode: null } : { Running: false, ExitCode: 7 }),
    });
    const outcome = await containerExec(
      { id: 'web', body: { cmd: ['sh', '-c', 'exit 7'], env: { A: '1' }, workdir: '/tmp', user: 'nobody' } },
      contextOf(engine.docker),
    );
    expect(engine.calls).toEqual([
      {
        call: 'container(web).exec',
        args: [
          {
            Cmd: ['sh', '-c', 'exit 7'],
            Env: ['A=1'],
            WorkingDir: '/tmp',
            User: 'nobody',
            AttachStdout: true,
            AttachStderr: true,
            abortSignal: aSignal,
          },
        ],
      },
      { call: 'exec(e1).start', args: [{ hijack: true, stdin: false, abortSignal: aSignal }] },
      { call: 'exec(e1).inspect', args: [{ abortSignal: aSignal }] },
      { call: 'exec(e1).inspect', args: [{ abortSignal: aSignal }] },
    ]);
    expect(outcome).toEqual({
      changed: true,
      id: 'web',
      message: 'exited with 7',
      exit_code: 7,
      stdout: 'out',
      stderr: 'err',
      stdout_bytes: 3,
      stderr_bytes: 3,
    });
  });

  it('keeps at most maxOutputBytes of each stream in the row and says it truncated', async () => {
    const engine = fakeEngine({
      'container.exec': () => engine.handle('exec', 'e2'),
      'exec.start': () => Readable.from([frame(1, 'x'.repeat(10))]),
      'exec.inspect': () => ({ Running: false, ExitCode: 0 }),
    });
    const outcome = await containerExec({ id: 'web', body: { cmd: ['yes'] } }, contextOf(engine.docker, { maxOutputBytes: 4 }));
    expect(outcome).toEqual({
      changed: true,
      id: 'web',
      message: 'exited with 0',
      exit_code: 0,
      stdout: 'xxxx',
      stderr: '',
      stdout_bytes: 10,
      stderr_bytes: 0,
      truncated: true,
    });
  });
});

describe('docker.container.prune', () => {
  it('hands the filters on as JSON and reports what was deleted and freed', async () => {
    const engine = fakeEngine({ pruneContainers: () => ({ ContainersDeleted: ['c1', 'c2'], SpaceReclaimed: 42 }) });
    const outcome = await containerPrune({ filters: { until: ['24h'] } } as never, contextOf(engine.docker));
    expect(engine.calls).toEqual([{ call: 'pruneContainers', args: [{ filters: '{"until":["24h"]}', abortSignal: aSignal }] }]);
    expect(outcome).toEqual({ changed: true, message: '2 containers deleted', containers_deleted: ['c1', 'c2'], space_reclaimed: 42 });
  });

  it("nothing to prune (the engine's null) is not changed", async () => {
    const engine = fakeEngine({ pruneContainers: () => ({ ContainersDeleted: null, SpaceReclaimed: 0 }) });
    expect(await containerPrune({}, contextOf(engine.docker))).toEqual({
      changed: false,
      message: '0 containers deleted',
      containers_deleted: [],
      space_reclaimed: 0,
    });
  });
});

describe('docker.container.archive-get', () => {
  it("sends the engine's tar with its path stat and reports the bytes", async () => {
    const archive = Object.assign(Readable.from([Buffer.from('tar-bytes')]), {
      headers: { 'x-docker-container-path-stat': 'eyJuYW1lIjoiaG9zdG5hbWUifQ==' },
    });
    const engine = fakeEngine({ 'container.getArchive': () => archive });
    const file = fileSink();
    const outcome = await containerArchiveGet({ id: 'web', path: '/etc/hostname' }, contextOf(engine.docker, { sendFile: file.sendFile }));
    expect(engine.calls).toEqual([{ call: 'container(web).getArchive', args: [{ path: '/etc/hostname', abortSignal: aSignal }] }]);
    expect(outcome).toEqual({ changed: false, id: 'web', message: '9 bytes of /etc/hostname sent' });
    expect(file.sent).toEqual([{ bytes: 'tar-bytes', headers: { 'X-Docker-Container-Path-Stat': 'eyJuYW1lIjoiaG9zdG5hbWUifQ==' } }]);
  });
  it("lets go of the engine's stream also when the caller went away midway", async () => {
    const archive = new Readable({ read() {} });
    const engine = fakeEngine({ 'container.getArchive': () => archive });
    const gone = async () => {
      throw new Error('the caller went away');
    };
    await expect(containerArchiveGet({ id: 'web', path: '/etc' }, contextOf(engine.docker, { sendFile: gone }))).rejects.toThrow(
      'the caller went away',
    );
    expect(archive.destroyed).toBe(true);
  });
});

describe('docker.container.archive-put', () => {
  it("hands the job's upload and the path to the engine", async () => {
    const received: string[] = [];
    const engine = fakeEngine({
      'container.putArchive': async (body: NodeJS.ReadableStream) => {
        for await (const chunk of body) received.push(chunk.toString());
      },
    });
    const ctx = contextOf(engine.docker, { upload: () => Readable.from([Buffer.from('a tar')]) });
    expect(await containerArchivePut({ id: 'web', path: '/tmp' }, ctx)).toEqual({
      changed: true,
      id: 'web',
      message: 'archive extracted into /tmp',
    });
    expect(engine.calls).toEqual([
      {
        call: 'container(web).putArchive',
        args: [expect.anything(), { path: '/tmp', noOverwriteDirNonDir: false, copyUIDGID: false, abortSignal: aSignal }],
      },
    ]);
    expect(received).toEqual(['a tar']);
  });

  it("a failed upload is the row's error, not the aborted engine call", async () => {
    const stuck = (_body: unknown, options: { abortSignal: AbortSignal }) =>
      new Promise((_, reject) => options.abortSignal.addEventListener('abort', () => reject(new Error('aborted'))));
    const engine = fakeEngine({ 'container.putArchive': stuck });
    const failing = new Readable({ read() {} });
    const put = containerArchivePut({ id: 'web', path: '/tmp' }, contextOf(engine.docker, { upload: () => failing }));
    failing.destroy(new Error('the upload ended after 10 of 20 bytes'));
    await expect(put).rejects.toThrow('the upload ended after 10 of 20 bytes');
  });
});

describe('docker.container.export', () => {
  it("sends the container's filesystem as the job's file and reports its bytes", async () => {
    const engine = fakeEngine({ 'container.export': () => Readable.from([Buffer.from('rootfs')]) });
    const file = fileSink();
    expect(await containerExport({ id: 'web' }, contextOf(engine.docker, { sendFile: file.sendFile }))).toEqual({
      changed: false,
      id: 'web',
      message: '6 bytes of the filesystem sent',
    });
    expect(engine.calls).toEqual([{ call: 'container(web).export', args: [{ abortSignal: aSignal }] }]);
    expect(file.sent).toEqual([{ bytes: 'rootfs', headers: {} }]);
  });
});

describe('docker.container.commit', () => {
  it('passes repo, tag, comment and each change to the engine, pausing by default, and reports the new image', async () => {
    const engine = fakeEngine({ 'container.commit': () => ({ Id: 'sha256:abc' }) });
    const body = { repo: 'local/snap', tag: 'v1', comment: 'c', changes: ['ENV A=1', 'CMD ["sh"]'] };
    expect(await containerCommit({ id: 'web', body }, contextOf(engine.docker))).toEqual({
      changed: true,
      id: 'sha256:abc',
      message: 'committed web as local/snap:v1',
    });
    expect(engine.calls).toEqual([
      {
        call: 'container(web).commit',
        args: [
          {
            repo: 'local/snap',
            tag: 'v1',
            comment: 'c',
            author: undefined,
            changes: ['ENV A=1', 'CMD ["sh"]'],
            pause: true,
            abortSignal: aSignal,
          },
        ],
      },
    ]);
  });

  it('without a repo the image is untagged, and pause: false reaches the engine', async () => {
    const engine = fakeEngine({ 'container.commit': () => ({ Id: 'sha256:def' }) });
    expect(await containerCommit({ id: 'web', body: { pause: false } }, contextOf(engine.docker))).toEqual({
      changed: true,
      id: 'sha256:def',
      message: 'committed web as an untagged image',
    });
    expect(engine.calls[0].args).toEqual([expect.objectContaining({ pause: false, repo: undefined })]);
  });
});
