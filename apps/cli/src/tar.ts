import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { lstat, mkdir, readdir, readlink, realpath, symlink } from 'node:fs/promises';
import path from 'node:path';
import type { Pack } from 'tar-stream';

/** Loaded when a copy runs, not with every command (the CLI's start-up: README "Build"). */
const tarStream = (): typeof import('tar-stream') => require('tar-stream');

/**
 * `fleet container cp`'s two ends on the local side: a file or directory packed into a tar as
 * `docker cp` packs it (its own name at the top), and a tar unpacked into a local path.
 */

/** A tar of `source` (a file, a directory with everything under it, or a symlink), named by its base name. */
export function packPath(source: string): AsyncIterable<Buffer> {
  const archive = tarStream().pack();
  addEntry(archive, source, path.basename(path.resolve(source))).then(
    () => archive.finalize(),
    (err: Error) => archive.destroy(err),
  );
  return archive as AsyncIterable<Buffer>;
}

async function addEntry(archive: Pack, file: string, name: string): Promise<void> {
  const stat = await lstat(file);
  const common = { name, mode: stat.mode & 0o7777, mtime: stat.mtime };
  if (stat.isSymbolicLink()) {
    await write(archive, { ...common, type: 'symlink', linkname: await readlink(file) });
  } else if (stat.isDirectory()) {
    await write(archive, { ...common, type: 'directory' });
    for (const child of (await readdir(file)).sort()) await addEntry(archive, path.join(file, child), `${name}/${child}`);
  } else if (stat.isFile()) {
    let written!: Promise<void>;
    const entry = archive.entry(
      { ...common, type: 'file', size: stat.size },
      (err) => (written = err ? Promise.reject(err) : Promise.resolve()),
    );
    const ended = new Promise<void>((resolve, reject) => entry.once('finish', resolve).once('error', reject));
    await feed(createReadStream(file), entry);
    await ended;
    await written;
  } else {
    throw new Error(`${file}: only files, directories and symlinks can be copied`);
  }
}

function write(archive: Pack, header: Parameters<Pack['entry']>[0]): Promise<void> {
  return new Promise((resolve, reject) => archive.entry(header, (err) => (err ? reject(err) : resolve())));
}

/**
 * Unpacks `tar` as `docker cp` does: into `destination` when it is an existing directory; else
 * as `destination` itself (the archive's top entry renamed to it). An entry that would land
 * outside (`..`, an absolute name, a path through a symlink) is refused, whatever the host sent.
 */
export async function unpackInto(tar: AsyncIterable<Buffer>, destination: string): Promise<number> {
  const existing = await lstat(destination).catch(() => undefined);
  const intoDirectory = existing?.isDirectory() === true;
  const root = path.resolve(intoDirectory ? destination : path.dirname(destination));
  const realRoot = await realpath(root);
  const rename = intoDirectory ? undefined : path.basename(destination);
  const unpacker = tarStream().extract();
  let files = 0;
  const unpacked = (async () => {
    for await (const entry of unpacker) {
      const target = await placed(realRoot, root, entry.header.name, rename);
      const mode = (entry.header.mode ?? 0o644) & 0o7777;
      if (entry.header.type === 'directory') await mkdir(target, { recursive: true, mode });
      else if (entry.header.type === 'symlink') await symlink(entry.header.linkname ?? '', target);
      else if (entry.header.type === 'file') {
        const file = createWriteStream(target, { mode });
        const closed = once(file, 'close');
        await feed(entry as AsyncIterable<Buffer>, file);
        await closed;
        files++;
        continue;
      }
      // A directory, a link or a kind that is not copied (devices, fifos): its data, if any, is skipped.
      entry.resume();
    }
  })();
  await Promise.all([feed(tar, unpacker), unpacked]);
  return files;
}

/** Writes `source` into a tar-stream stream (a streamx stream, which node's pipeline does not drive), minding its backpressure. */
async function feed(source: AsyncIterable<Buffer>, sink: NodeJS.WritableStream): Promise<void> {
  for await (const chunk of source) if (!sink.write(chunk)) await once(sink, 'drain');
  sink.end();
}

/** Where an entry lands under `root`, its top component renamed; refused when it would land outside. */
async function placed(realRoot: string, root: string, name: string, rename: string | undefined): Promise<string> {
  const parts = name.split('/').filter((part) => part !== '' && part !== '.');
  if (parts.length === 0 || parts.includes('..') || path.isAbsolute(name))
    throw new Error(`refusing the archive entry '${name}': it would land outside ${root}`);
  if (rename) parts[0] = rename;
  const target = path.join(root, ...parts);
  const parent = await realpath(path.dirname(target));
  if (parent !== realRoot && !parent.startsWith(`${realRoot}${path.sep}`))
    throw new Error(`refusing the archive entry '${name}': it would land outside ${root} (through a symlink)`);
  return target;
}
