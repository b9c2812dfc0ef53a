import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import { JOB_TIMEOUT_SECONDS } from '@fleet/contracts/operations';
import { clientFor, globalsOf } from '../context';
import { exitCodeForRows, UsageError } from '../exit';
import { renderRows, write, writeJson } from '../output';

/** `web:/tmp/x` → container `web`, path `/tmp/x`; a local path has no `:` before its first `/` (as for `docker cp`). */
function containerPath(operand: string): { container: string; path: string } | undefined {
  const colon = operand.indexOf(':');
  if (colon <= 0 || operand.slice(0, colon).includes('/')) return undefined;
  return { container: operand.slice(0, colon), path: operand.slice(colon + 1) };
}

interface CopyOptions {
  target: string;
  timeout?: number;
}

/**
 * `fleet container cp SRC DEST --target <t>`, both ways like `docker cp`: a local file or directory
 * into a directory of the container on every targeted host (docker.container.archive-put), or a
 * path of the container on one host (a hostname or `_any`) out to a local path, or to standard
 * output as a tar with `-` (docker.container.archive-get).
 */
export function defineCopyCommand(container: Command, parseTimeout: (raw: string) => number): void {
  container
    .command('cp <source> <destination>')
    .description(
      "copy files into a container on every targeted host (LOCAL CONTAINER:DIR) or out of one host's container (CONTAINER:PATH LOCAL|-)",
    )
    .requiredOption('--target <target>', 'where it runs: into a container, any target; out of one, a hostname or _any')
    .option(
      '--timeout <seconds>',
      `the job's deadline (${JOB_TIMEOUT_SECONDS.minimum}-${JOB_TIMEOUT_SECONDS.maximum}, default ${JOB_TIMEOUT_SECONDS.default})`,
      parseTimeout,
    )
    .action(async (source: string, destination: string, opts: CopyOptions, command: Command) => {
      const from = containerPath(source);
      const to = containerPath(destination);
      if (from && !to) return copyOut(command, opts, from, destination);
      if (to && !from) return copyIn(command, opts, source, to);
      throw new UsageError('one side of cp names a container path (CONTAINER:PATH), the other a local path');
    });
}

/** The tar code (and the fs/promises, readline and tar-stream it brings) loads only for `cp`, not at every start. */
const tar = () => require('../tar') as typeof import('../tar');

async function copyIn(command: Command, opts: CopyOptions, source: string, to: { container: string; path: string }): Promise<void> {
  const { packPath } = tar();
  const answer = await clientFor(command)
    .node(opts.target)
    .upload('docker.container.archive-put', packPath(source), { id: to.container, path: to.path }, { timeout: opts.timeout });
  if (!('results' in answer)) return;
  if (globalsOf(command).json) writeJson(answer);
  else write(renderRows(answer.results));
  process.exitCode = exitCodeForRows(answer.results);
}

async function copyOut(command: Command, opts: CopyOptions, from: { container: string; path: string }, destination: string): Promise<void> {
  const file = await clientFor(command)
    .node(opts.target)
    .download('docker.container.archive-get', { id: from.container, path: from.path }, { timeout: opts.timeout });
  const archive = Readable.fromWeb(file.body as import('node:stream/web').ReadableStream<Uint8Array>);
  if (destination === '-') {
    await pipeline(archive, process.stdout);
    return;
  }
  const { unpackInto } = tar();
  const files = await unpackInto(archive as AsyncIterable<Buffer>, destination);
  process.stderr.write(
    `copied ${files} file${files === 1 ? '' : 's'} from ${file.hostname}:${from.container}:${from.path} to ${destination}\n`,
  );
}

/** Writes a file answer to `--output` or standard output, never to a terminal. */
export async function saveFileAnswer(body: ReadableStream<Uint8Array>, output: string | undefined): Promise<void> {
  if (output === undefined && process.stdout.isTTY)
    throw new UsageError('refusing to write a tar to a terminal: give --output <file> or redirect standard output');
  const source = Readable.fromWeb(body as import('node:stream/web').ReadableStream<Uint8Array>);
  await pipeline(source, output === undefined || output === '-' ? process.stdout : createWriteStream(output));
}
