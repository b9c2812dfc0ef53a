import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { findExecutable } from './paths';

export interface ServiceCommand {
  command: string;
  args: string[];
  logFile: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Detached processes outlive the caller (`fleet up`); attached ones belong to it (tests). */
  detached: boolean;
  /**
   * Run inside this network namespace (one `ip netns add` made). Entered with `nsenter --net`, which execs the
   * command itself, so the PID and command line stay the service's own (stopping by PID and marker works
   * unchanged); not `ip netns exec`, which also remounts /sys and so hides the cgroup mounts dockerd needs.
   */
  netns?: string;
}

/** Starts a long-running process with stdout and stderr appended to its log file; returns its PID. */
export function spawnService(cmd: ServiceCommand): number {
  const log = openSync(cmd.logFile, 'a');
  try {
    const [command, args] = cmd.netns
      ? [findExecutable('nsenter'), [`--net=/run/netns/${cmd.netns}`, '--', cmd.command, ...cmd.args]]
      : [cmd.command, cmd.args];
    const child = spawn(command, args, {
      cwd: cmd.cwd,
      env: cmd.env,
      stdio: ['ignore', log, log],
      detached: cmd.detached,
    });
    // Without a listener a failed exec would crash the caller; the missing PID below reports it instead.
    child.on('error', () => undefined);
    if (child.pid === undefined) throw new Error(`could not start ${cmd.command}`);
    if (cmd.detached) child.unref();
    return child.pid;
  } finally {
    closeSync(log);
  }
}

/**
 * True while the process exists and has not exited. Zombies count as dead: here PID 1 does not reap
 * orphans, so a detached process that exited can linger as a zombie that still answers kill(pid, 0).
 */
export function isAlive(pid: number): boolean {
  // kill(0 or negative) would address a whole process group, ours included.
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  return processState(pid) !== 'Z';
}

/** The single-letter state from /proc/PID/stat, or undefined when the process is gone. */
function processState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name is in parentheses and may itself contain spaces or parentheses.
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return undefined;
  }
}

/** The process's command line joined by spaces, or '' when it is gone. */
export function commandLineOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return '';
  }
}

/**
 * True when `pid` is alive and its command line contains `marker`. PIDs recorded in a state file
 * may have been reused by an unrelated process since; this keeps us from signalling a stranger.
 */
export function isOurProcess(pid: number, marker: string): boolean {
  return isAlive(pid) && commandLineOf(pid).includes(marker);
}

export interface StopOptions {
  /** How long SIGTERM gets before SIGKILL. */
  graceMs?: number;
  /** Only signal the PID when its command line contains this (see isOurProcess). */
  marker?: string;
}

/** Stops a process: SIGTERM, then SIGKILL after the grace period; resolves once it has exited. */
export async function stopByPid(pid: number, opts: StopOptions = {}): Promise<void> {
  if (!isAlive(pid)) return;
  if (opts.marker !== undefined && !isOurProcess(pid, opts.marker)) return;
  sendSignal(pid, 'SIGTERM');
  if (await waitForExit(pid, opts.graceMs ?? 10_000)) return;
  sendSignal(pid, 'SIGKILL');
  if (!(await waitForExit(pid, 5_000))) throw new Error(`process ${pid} survived SIGKILL`);
}

/** Sends a signal; a process that is already gone is not an error. */
export function sendSignal(pid: number, signal: NodeJS.Signals): void {
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`refusing to signal pid ${pid}`);
  try {
    process.kill(pid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

/** Resolves true once the process has exited, false if it is still alive after timeoutMs. */
export async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid)) {
    if (Date.now() >= deadline) return false;
    await sleep(50);
  }
  return true;
}

export interface WaitOptions {
  timeoutMs: number;
  intervalMs?: number;
  /** Checked before each probe; a returned reason aborts the wait at once (e.g. the process died). */
  abortIf?: () => string | undefined;
}

/**
 * Polls `probe` until it returns a value other than undefined/false, and returns that value.
 * A throwing probe counts as "not yet"; its last message is included in the timeout error.
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  opts: WaitOptions,
): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  let lastError = '';
  for (;;) {
    const abortReason = opts.abortIf?.();
    if (abortReason) throw new Error(`gave up waiting for ${what}: ${abortReason}`);
    try {
      const result = await probe();
      if (result !== undefined && result !== false) return result;
    } catch (err) {
      lastError = (err as Error).message;
    }
    if (Date.now() >= deadline) {
      throw new Error(`timed out after ${opts.timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${lastError})` : ''}`);
    }
    await sleep(opts.intervalMs ?? 100);
  }
}

/** waitFor a service just started to answer; when it never does, `stop` it before the error goes on. */
export async function waitForServiceOrStop<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  opts: WaitOptions,
  stop: () => Promise<void>,
): Promise<void> {
  try {
    await waitFor(what, probe, opts);
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * An unused TCP port on 127.0.0.1. With FLEET_PORT_RANGE (`first-last`), the next one of that range that nothing listens
 * on: the test suites give each jest worker a range of its own below the kernel's ephemeral ports, so that between
 * choosing a port and listening on it neither the other worker nor any outgoing connection can take it. Without it, the
 * kernel picks one for a throwaway listener.
 */
export async function freePort(): Promise<number> {
  const range = portRange(process.env.FLEET_PORT_RANGE);
  if (!range) return kernelPickedPort();
  const size = range.last - range.first + 1;
  for (let tried = 0; tried < size; tried++) {
    // Taken before the await: calls made at once get distinct ports.
    const port = range.first + (nextInRange++ % size);
    if (await isFree(port)) return port;
  }
  throw new Error(`no free port left in FLEET_PORT_RANGE ${range.first}-${range.last}`);
}

let nextInRange = 0;

function portRange(text: string | undefined): { first: number; last: number } | undefined {
  const match = /^(\d+)-(\d+)$/.exec(text ?? '');
  if (!match) return undefined;
  const [first, last] = [Number(match[1]), Number(match[2])];
  return first >= 1024 && last >= first && last <= 65535 ? { first, last } : undefined;
}

function isFree(port: number): Promise<boolean> {
  return assertPortFree(port).then(
    () => true,
    () => false,
  );
}

function kernelPickedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port assigned'))));
    });
  });
}

/** Fails with a clear message when something already listens on 127.0.0.1:port. */
export function assertPortFree(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(new Error(err.code === 'EADDRINUSE' ? `port ${port} on 127.0.0.1 is already in use` : err.message)),
    );
    server.listen(port, '127.0.0.1', () => server.close(() => resolve()));
  });
}

/** The last lines of a log file, for error messages that should say why a process failed. */
export function logTail(logFile: string, lines = 20): string {
  try {
    return readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return `(no log at ${logFile})`;
  }
}

/** An abortIf hook for waitFor: reports the process's death together with the end of its log. */
export function abortIfDead(name: string, pid: number, logFile: string): () => string | undefined {
  return () => (isAlive(pid) ? undefined : `${name} (pid ${pid}) exited; end of ${logFile}:\n${logTail(logFile)}`);
}
