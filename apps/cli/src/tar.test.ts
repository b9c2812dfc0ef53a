import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pack } from 'tar-stream';
import { packPath, unpackInto } from './tar';

let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'fleet-tar-'));
});

afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A tar of the given entries, as a host could send it. */
async function tarOf(
  entries: Array<{ name: string; type?: 'file' | 'directory' | 'symlink'; content?: string; linkname?: string }>,
): Promise<Buffer> {
  const archive = pack();
  for (const { content, ...header } of entries) archive.entry(header, content ?? '');
  archive.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of archive) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function* once(buffer: Buffer): AsyncIterable<Buffer> {
  yield buffer;
}

describe('fleet container cp, the local side', () => {
  it('packs a directory under its own name and unpacks it into an existing directory unchanged', async () => {
    mkdirSync(join(dir, 'conf/sub'), { recursive: true });
    writeFileSync(join(dir, 'conf/app.ini'), 'mode=fleet\n');
    writeFileSync(join(dir, 'conf/sub/deep.txt'), 'deep\n');
    symlinkSync('app.ini', join(dir, 'conf/link'));
    mkdirSync(join(dir, 'out'));
    const files = await unpackInto(packPath(join(dir, 'conf')), join(dir, 'out'));
    expect(files).toBe(2);
    expect(readFileSync(join(dir, 'out/conf/app.ini'), 'utf8')).toBe('mode=fleet\n');
    expect(readFileSync(join(dir, 'out/conf/sub/deep.txt'), 'utf8')).toBe('deep\n');
    expect(readFileSync(join(dir, 'out/conf/link'), 'utf8')).toBe('mode=fleet\n');
  });

  it('unpacks to a path that does not exist yet as that path: the top entry is renamed, as docker cp does', async () => {
    await unpackInto(once(await tarOf([{ name: 'hostname', content: 'web-01\n' }])), join(dir, 'copy-of-hostname'));
    expect(readFileSync(join(dir, 'copy-of-hostname'), 'utf8')).toBe('web-01\n');
  });

  it('refuses entries that would land outside the destination: .., absolute names, a path through a symlink', async () => {
    mkdirSync(join(dir, 'out'));
    mkdirSync(join(dir, 'elsewhere'));
    await expect(unpackInto(once(await tarOf([{ name: '../escaped.txt', content: 'x' }])), join(dir, 'out'))).rejects.toThrow(
      /would land outside/,
    );
    await expect(unpackInto(once(await tarOf([{ name: '/etc/escaped.txt', content: 'x' }])), join(dir, 'out'))).rejects.toThrow(
      /would land outside/,
    );
    const throughLink = await tarOf([
      { name: 'link', type: 'symlink', linkname: join(dir, 'elsewhere') },
      { name: 'link/escaped.txt', content: 'x' },
    ]);
    await expect(unpackInto(once(throughLink), join(dir, 'out'))).rejects.toThrow(/through a symlink/);
    expect(existsSync(join(dir, 'escaped.txt'))).toBe(false);
    expect(existsSync(join(dir, 'elsewhere/escaped.txt'))).toBe(false);
  });
});
