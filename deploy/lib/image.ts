import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dockerClient } from './engine';
import { findExecutable } from './paths';

/** Nothing can be pulled from the internet here, so every engine gets this image built from busybox-static. */
export const BUSYBOX_IMAGE = 'local/busybox:latest';

interface ProgressMessage {
  status?: string;
  error?: string;
}

/** Imports a busybox rootfs (every applet, a minimal /etc/passwd) as `tag`; returns the image id. */
export async function importBusyboxImage(socket: string, tag: string = BUSYBOX_IMAGE): Promise<string> {
  const rootfs = buildBusyboxRootfs();
  try {
    await importRootfs(socket, rootfs, tag);
  } finally {
    rmSync(rootfs, { recursive: true, force: true });
  }
  const image = await dockerClient(socket).getImage(tag).inspect();
  return image.Id;
}

export async function hasImage(socket: string, tag: string): Promise<boolean> {
  try {
    await dockerClient(socket).getImage(tag).inspect();
    return true;
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return false;
    throw err;
  }
}

/** The static busybox needs no libraries, so the binary plus symlinks is a complete userland. */
function buildBusyboxRootfs(): string {
  const rootfs = mkdtempSync(join(tmpdir(), 'flt-rootfs-'));
  const busybox = findExecutable('busybox');
  mkdirSync(join(rootfs, 'bin'));
  copyFileSync(busybox, join(rootfs, 'bin', 'busybox'));
  chmodSync(join(rootfs, 'bin', 'busybox'), 0o755);
  for (const applet of appletsOf(busybox)) symlinkSync('busybox', join(rootfs, 'bin', applet));
  mkdirSync(join(rootfs, 'etc'));
  // Named users let tests exec as `nobody` and let `id`/`ps` print names.
  writeFileSync(join(rootfs, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n');
  writeFileSync(join(rootfs, 'etc', 'group'), 'root:x:0:\nnogroup:x:65534:\n');
  mkdirSync(join(rootfs, 'root'));
  mkdirSync(join(rootfs, 'tmp'));
  chmodSync(join(rootfs, 'tmp'), 0o1777);
  return rootfs;
}

function appletsOf(busybox: string): string[] {
  return execFileSync(busybox, ['--list'], { encoding: 'utf8' })
    .split('\n')
    .filter((name) => name && name !== 'busybox');
}

/** Streams `tar` of the rootfs into POST /images/create?fromSrc=- (what `docker import` does). */
async function importRootfs(socket: string, rootfs: string, tag: string): Promise<void> {
  const tar = spawn('tar', ['--numeric-owner', '--owner=0', '--group=0', '-C', rootfs, '-c', '.'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const tarExit = new Promise<number | null>((resolve, reject) => {
    tar.once('error', reject);
    tar.once('close', resolve);
  });
  const docker = dockerClient(socket);
  const progress = await docker.importImage(tar.stdout, { ...splitTag(tag), changes: ['CMD ["/bin/sh"]'] });
  const messages = await new Promise<ProgressMessage[]>((resolve, reject) =>
    docker.modem.followProgress(progress, (err: Error | null, output: ProgressMessage[]) => (err ? reject(err) : resolve(output))),
  );
  const failure = messages.find((message) => message.error);
  if (failure) throw new Error(`importing ${tag}: ${failure.error}`);
  const code = await tarExit;
  if (code !== 0) throw new Error(`tar of ${rootfs} exited with ${code}`);
}

/** `127.0.0.1:5000/local/busybox:1.0` → repo `127.0.0.1:5000/local/busybox`, tag `1.0` (a port is not a tag). */
function splitTag(reference: string): { repo: string; tag: string } {
  const colon = reference.lastIndexOf(':');
  if (colon <= reference.lastIndexOf('/')) return { repo: reference, tag: 'latest' };
  return { repo: reference.slice(0, colon), tag: reference.slice(colon + 1) };
}
