/**
 * Files in and out of a fleet on three real engines behind the real gateway and agents (README
 * "File transfers"): `fleet image load --target _all` from a tar that the docker CLI saved of an
 * imported image, `fleet container cp` into a container on every targeted host and out of one,
 * container export, container commit and image save, each checked on the engines themselves; the
 * uploads are gone from the object store once their jobs end; bad input is a clear 4xx.
 */
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { extract } from 'tar-stream';
import { objectStreamName, UPLOADS_BUCKET } from '@fleet/contracts/protocol';
import { NatsLogin } from '../support/agent-login';
import { assertMatchesContract } from '../support/contract';
import { imageIdOn } from '../support/docker';
import { api, errorBody } from '../support/http';
import { useTestFleet } from '../support/suite';

const REPO = resolve(__dirname, '../..');
const CLI = [join(REPO, 'apps/cli/bin/fleet.js')];
const HOSTS = ['db-01', 'web-01', 'web-02'];
const WEB = ['web-01', 'web-02'];
const CONTAINER = 'xfer';
const IMPORTED = 'local/transfer:v1';
const UPLOAD_LIMIT = 1024 * 1024;

const fleet = useTestFleet({ gatewayEnv: { FLEET_UPLOAD_MAX_BYTES: String(UPLOAD_LIMIT) } });
let scratch: string;

beforeAll(async () => {
  scratch = mkdtempSync('/tmp/flt-xfer-');
  const created = await api(fleet, 'POST', '/node/_all/container/docker', {
    body: { image: 'local/busybox:latest', name: CONTAINER, cmd: ['sleep', '3600'], auto_start: true },
  });
  expect(created.status).toBe(202);
});

afterAll(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

interface CliResult {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

/** Runs the real `fleet` bin to its end, standard input from `stdinFile` (else none). */
function fleetCli(args: string[], stdinFile?: string): Promise<CliResult> {
  const env = {
    ...Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('FLEET_'))),
    FLEET_URL: fleet.url,
    FLEET_API_KEY: fleet.adminKey,
  };
  const stdin = stdinFile === undefined ? 'ignore' : openSync(stdinFile, 'r');
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [...CLI, ...args], { cwd: scratch, env, stdio: [stdin, 'pipe', 'pipe'] });
    if (typeof stdin === 'number') closeSync(stdin);
    const stdout: Buffer[] = [];
    let stderr = '';
    child.stdout?.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 110_000);
    child.on('error', fail);
    child.on('close', (code) => {
      clearTimeout(timer);
      done({ code, stdout: Buffer.concat(stdout), stderr });
    });
  });
}

/** The real docker CLI on one host's engine. */
function dockerCli(host: string, args: string[]): string {
  return execFileSync('docker', ['-H', `unix://${fleet.socketOf(host)}`, ...args], { encoding: 'utf8', timeout: 60_000 });
}

/** Every entry of a tar: name → content (files) or '' (anything else). */
async function tarEntries(tar: Buffer | AsyncIterable<Buffer>): Promise<Map<string, string>> {
  const entries = new Map<string, string>();
  const unpacker = extract();
  const reading = (async () => {
    for await (const entry of unpacker) {
      const chunks: Buffer[] = [];
      for await (const chunk of entry) chunks.push(chunk as Buffer);
      entries.set(entry.header.name, entry.header.type === 'file' ? Buffer.concat(chunks).toString('utf8') : '');
    }
  })();
  if (Buffer.isBuffer(tar)) unpacker.end(tar);
  else {
    for await (const chunk of tar) unpacker.write(chunk);
    unpacker.end(Buffer.alloc(0));
  }
  await reading;
  return entries;
}

/** A file in a container, read on the host's engine itself. */
async function engineFile(host: string, path: string): Promise<string | undefined> {
  try {
    const archive = await fleet.docker(host).getContainer(CONTAINER).getArchive({ path });
    return [...(await tarEntries(archive as unknown as AsyncIterable<Buffer>)).values()][0];
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return undefined;
    throw err;
  }
}

/** The image's id on that host's engine, read behind the gateway's back. */
function engineImageId(host: string, reference: string): Promise<string | undefined> {
  return imageIdOn(fleet.docker(host), reference);
}

/** A file answer of the gateway, read whole (these are small). */
async function download(path: string): Promise<{ status: number; headers: Headers; body: Buffer }> {
  const res = await fetch(`${fleet.url}${path}`, {
    headers: { authorization: `Bearer ${fleet.adminKey}` },
    signal: AbortSignal.timeout(60_000),
  });
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
}

/** Chunks left in the upload store: none once every upload's job has ended. */
async function storedUploadChunks(): Promise<number> {
  const login = await NatsLogin.asGateway(fleet);
  try {
    const jsm = await jetstreamManager(login.nc);
    const info = await jsm.streams.info(objectStreamName(UPLOADS_BUCKET), { subjects_filter: `$O.${UPLOADS_BUCKET}.C.>` });
    return Object.values(info.state.subjects ?? {}).reduce((sum, count) => sum + count, 0);
  } finally {
    await login.close();
  }
}

describe('fleet image load --target _all: an image without a registry', () => {
  it('loads a docker-saved tar of an imported image onto all 3 engines (docker.image.load)', async () => {
    // An image made here, on web-01 only, by the real docker CLI: a one-file rootfs imported, then saved.
    const rootfs = join(scratch, 'rootfs');
    mkdirSync(rootfs);
    writeFileSync(join(rootfs, 'hello.txt'), 'made for the air-gapped fleet\n');
    execFileSync('tar', ['-C', rootfs, '-cf', join(scratch, 'rootfs.tar'), '.']);
    const importedId = dockerCli('web-01', ['import', join(scratch, 'rootfs.tar'), IMPORTED]).trim();
    dockerCli('web-01', ['save', '-o', join(scratch, 'image.tar'), IMPORTED]);
    dockerCli('web-01', ['rmi', IMPORTED]);
    for (const host of HOSTS) expect(await engineImageId(host, IMPORTED)).toBeUndefined();

    const loaded = await fleetCli(['image', 'load', '--target', '_all', '--json'], join(scratch, 'image.tar'));
    expect({ code: loaded.code, stderr: loaded.stderr }).toEqual({ code: 0, stderr: '' });
    const answer = JSON.parse(loaded.stdout.toString('utf8'));
    assertMatchesContract('docker.image.load', 202, answer);
    expect(
      answer.results.map((row: { hostname: string; status: string; images: string[] }) => [row.hostname, row.status, row.images]),
    ).toEqual(HOSTS.map((host) => [host, 'ok', [IMPORTED]]));
    for (const host of HOSTS) expect(await engineImageId(host, IMPORTED)).toBe(importedId);
    expect(await storedUploadChunks()).toBe(0);
  });

  it('refuses a file over FLEET_UPLOAD_MAX_BYTES with 413, stores nothing and loads nothing', async () => {
    const big = join(scratch, 'big.tar');
    writeFileSync(big, Buffer.alloc(UPLOAD_LIMIT + 4096, 7));
    const before = await Promise.all(HOSTS.map((host) => fleet.docker(host).listImages()));
    // Streamed without a length, so the limit is what the gateway counts, not what the client declares.
    const res = await fetch(`${fleet.url}/node/_all/container/docker/image/load`, {
      method: 'POST',
      headers: { authorization: `Bearer ${fleet.adminKey}`, 'content-type': 'application/x-tar' },
      body: (async function* () {
        yield readFileSync(big);
      })(),
      duplex: 'half',
    } as unknown as RequestInit);
    expect(res.status).toBe(413);
    const details = `FLEET_UPLOAD_MAX_BYTES (${UPLOAD_LIMIT} bytes)`;
    expect(await res.json()).toEqual(errorBody({ code: 413, reason: 'payload_too_large', error: 'request body too large', details }));
    expect(await storedUploadChunks()).toBe(0);
    const after = await Promise.all(HOSTS.map((host) => fleet.docker(host).listImages()));
    expect(after.map((images) => images.length)).toEqual(before.map((images) => images.length));
  });

  it("answers a tar that is not an image with each engine's refusal, and a non-tar body with 415", async () => {
    const junk = await fetch(`${fleet.url}/node/role:web/container/docker/image/load`, {
      method: 'POST',
      headers: { authorization: `Bearer ${fleet.adminKey}`, 'content-type': 'application/x-tar' },
      body: 'this is not a tar archive',
    });
    expect(junk.status).toBe(202);
    const rows = (await junk.json()).results as Array<{ hostname: string; status: string; error?: string }>;
    expect(rows.map((row) => [row.hostname, row.status])).toEqual(WEB.map((host) => [host, 'failed']));
    for (const row of rows) expect(row.error).toBeTruthy();
    const wrongType = await api(fleet, 'POST', '/node/_all/container/docker/image/load', { body: { image: 'x' } });
    expect(wrongType.status).toBe(415);
    const details = 'unsupported media type application/json: the body must be application/x-tar';
    expect(wrongType.body).toEqual(errorBody({ code: 415, reason: 'unsupported_media_type', error: 'unsupported media type', details }));
  });
});

describe('fleet container cp', () => {
  it('copies a local file into the container on every targeted host, and on no other (docker.container.archive-put)', async () => {
    writeFileSync(join(scratch, 'note.txt'), 'copied by fleet container cp\n');
    const copied = await fleetCli(['container', 'cp', './note.txt', `${CONTAINER}:/tmp/`, '--target', 'role:web']);
    expect({ code: copied.code, stderr: copied.stderr }).toEqual({ code: 0, stderr: '' });
    for (const host of WEB) expect(await engineFile(host, '/tmp/note.txt')).toBe('copied by fleet container cp\n');
    expect(await engineFile('db-01', '/tmp/note.txt')).toBeUndefined();
    expect(await storedUploadChunks()).toBe(0);
  });

  it('copies a local directory into every container (docker.container.archive-put through the REST call)', async () => {
    mkdirSync(join(scratch, 'conf'));
    writeFileSync(join(scratch, 'conf', 'app.ini'), 'mode=fleet\n');
    const tar = execFileSync('tar', ['-C', scratch, '-cf', '-', 'conf']);
    const res = await fetch(`${fleet.url}/node/_all/container/docker/${CONTAINER}/archive?path=/tmp`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${fleet.adminKey}`, 'content-type': 'application/x-tar' },
      body: tar,
    });
    const answer = await res.json();
    expect(res.status).toBe(202);
    assertMatchesContract('docker.container.archive-put', 202, answer);
    for (const host of HOSTS) expect(await engineFile(host, '/tmp/conf/app.ini')).toBe('mode=fleet\n');
  });

  it('copies a file out of the container on one host to a local path, renamed as docker cp does (docker.container.archive-get)', async () => {
    const hostname = await engineFile('web-02', '/etc/hostname');
    const out = await fleetCli(['container', 'cp', `${CONTAINER}:/etc/hostname`, './hostname-of-web-02', '--target', 'web-02']);
    expect(out.code).toBe(0);
    expect(readFileSync(join(scratch, 'hostname-of-web-02'), 'utf8')).toBe(hostname);
    // Into an existing directory: the file keeps its name; `-` writes the tar itself.
    mkdirSync(join(scratch, 'into'));
    expect((await fleetCli(['container', 'cp', `${CONTAINER}:/tmp/note.txt`, './into', '--target', 'web-01'])).code).toBe(0);
    expect(readFileSync(join(scratch, 'into', 'note.txt'), 'utf8')).toBe('copied by fleet container cp\n');
    const raw = await fleetCli(['container', 'cp', `${CONTAINER}:/tmp/conf`, '-', '--target', 'web-01']);
    expect([...(await tarEntries(raw.stdout)).entries()]).toEqual(expect.arrayContaining([['conf/app.ini', 'mode=fleet\n']]));
  });

  it("answers the archive with the engine's path stat, and a missing path or container with 404", async () => {
    const file = await download(`/node/web-01/container/docker/${CONTAINER}/archive?path=/tmp/note.txt`);
    expect(file.status).toBe(200);
    expect(file.headers.get('content-type')).toBe('application/x-tar');
    expect(file.headers.get('x-fleet-hostname')).toBe('web-01');
    const stat = JSON.parse(Buffer.from(file.headers.get('x-docker-container-path-stat') ?? '', 'base64').toString('utf8'));
    expect(stat).toMatchObject({ name: 'note.txt', size: 'copied by fleet container cp\n'.length });
    const missingPath = await api(fleet, 'GET', `/node/web-01/container/docker/${CONTAINER}/archive?path=/no/such/file`);
    expect(missingPath.status).toBe(404);
    expect(missingPath.body).toMatchObject({ code: 404, job_id: expect.any(String) });
    const missingContainer = await api(fleet, 'GET', '/node/web-01/container/docker/no-such-container/archive?path=/tmp');
    expect(missingContainer.status).toBe(404);
  });

  it('refuses to copy out of several hosts at once: a 400 saying to name one host (and the CLI exits 2)', async () => {
    const res = await api(fleet, 'GET', `/node/role:web/container/docker/${CONTAINER}/archive?path=/etc/hostname`);
    expect(res.status).toBe(400);
    expect(res.body.details).toMatch(/target a hostname or _any, not 'role:web'/);
    const cli = await fleetCli(['container', 'cp', `${CONTAINER}:/etc/hostname`, './nowhere', '--target', '_all']);
    expect(cli.code).toBe(2);
    expect(cli.stderr).toMatch(/hostname or _any/);
    const relative = await api(fleet, 'GET', `/node/web-01/container/docker/${CONTAINER}/archive?path=etc/hostname`);
    expect(relative.status).toBe(400);
  });

  it('refuses a viewer key copying into containers (docker:write) and changes no engine', async () => {
    const viewer = fleet.mintKey('viewer');
    const res = await fetch(`${fleet.url}/node/_all/container/docker/${CONTAINER}/archive?path=/tmp`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${viewer}`, 'content-type': 'application/x-tar' },
      body: execFileSync('tar', ['-C', scratch, '-cf', '-', 'note.txt']),
    });
    expect(res.status).toBe(403);
    expect((await res.json()).details).toMatch(/docker:write/);
    // db-01 never had the file (the copy above went to role:web): the viewer's copy to _all did not put it there.
    expect(await engineFile('db-01', '/tmp/note.txt')).toBeUndefined();
  });
});

describe('export, commit and save', () => {
  it("exports the container's filesystem from one host, with what was copied into it (docker.container.export)", async () => {
    const exported = await download(`/node/web-02/container/docker/${CONTAINER}/export`);
    expect(exported.status).toBe(200);
    expect(exported.headers.get('x-fleet-hostname')).toBe('web-02');
    const fromGateway = await tarEntries(exported.body);
    const fromEngine = await tarEntries(
      (await fleet.docker('web-02').getContainer(CONTAINER).export()) as unknown as AsyncIterable<Buffer>,
    );
    expect(fromGateway.get('tmp/note.txt')).toBe('copied by fleet container cp\n');
    expect([...fromGateway.keys()].sort()).toEqual([...fromEngine.keys()].sort());
    expect((await api(fleet, 'GET', `/node/_all/container/docker/${CONTAINER}/export`)).status).toBe(400);
  });

  it('commits the container on every host with repo, tag, comment and changes (docker.container.commit)', async () => {
    const res = await api(fleet, 'POST', `/node/_all/container/docker/${CONTAINER}/commit`, {
      body: { repo: 'local/xfer-snap', tag: 'v1', comment: 'before upgrade', author: 'fleet e2e', changes: ['ENV STAGE=snapshot'] },
    });
    expect(res.status).toBe(202);
    assertMatchesContract('docker.container.commit', 202, res.body);
    for (const row of res.body.results as Array<{ hostname: string; status: string; id: string }>) {
      expect(row.status).toBe('ok');
      const image = await fleet.docker(row.hostname).getImage('local/xfer-snap:v1').inspect();
      expect(image.Id).toBe(row.id);
      expect(image.Comment).toBe('before upgrade');
      expect(image.Author).toBe('fleet e2e');
      expect(image.Config.Env).toContain('STAGE=snapshot');
    }
    const bad = await api(fleet, 'POST', `/node/_all/container/docker/${CONTAINER}/commit`, { body: { repo: 'Not A Repo' } });
    expect(bad.status).toBe(400);
  });

  it('saves images from one host as docker save does, loadable by the engine (docker.image.save)', async () => {
    const saved = await fleetCli(['image', 'save', 'local/xfer-snap:v1', '--target', 'web-01', '--output', 'snap.tar']);
    expect({ code: saved.code, stderr: saved.stderr }).toEqual({ code: 0, stderr: '' });
    const entries = await tarEntries(readFileSync(join(scratch, 'snap.tar')));
    const manifest = JSON.parse(entries.get('manifest.json') ?? '[]') as Array<{ Config: string; RepoTags: string[] }>;
    expect(manifest.map((item) => item.RepoTags)).toEqual([['local/xfer-snap:v1']]);
    const webId = await engineImageId('web-01', 'local/xfer-snap:v1');
    expect(`sha256:${manifest[0].Config.replace(/\.json$/, '')}`).toBe(webId);
    // Two names in one save, from the REST call, and back onto an engine by the docker CLI.
    const both = await download('/node/web-01/container/docker/image/save?names=local/xfer-snap:v1&names=local/busybox:latest');
    expect(both.status).toBe(200);
    const tags = (JSON.parse((await tarEntries(both.body)).get('manifest.json') ?? '[]') as Array<{ RepoTags: string[] }>).flatMap(
      (item) => item.RepoTags,
    );
    expect(tags.sort()).toEqual(['local/busybox:latest', 'local/xfer-snap:v1']);
    dockerCli('db-01', ['rmi', 'local/xfer-snap:v1']);
    dockerCli('db-01', ['load', '-i', join(scratch, 'snap.tar')]);
    expect(await engineImageId('db-01', 'local/xfer-snap:v1')).toBe(webId);
    const unknown = await api(fleet, 'GET', '/node/web-01/container/docker/image/save?names=local/no-such-image:v9');
    expect(unknown.status).toBe(404);
    expect((await api(fleet, 'GET', '/node/_all/container/docker/image/save?names=local/busybox:latest')).status).toBe(400);
  });
});
