import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { findExecutable, REPO_ROOT } from '@fleet/deploy';

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  kernel: string;
  os: string;
  openFilesLimit: string;
}

export interface Versions {
  node: string;
  natsServer: string;
  dockerd: string;
  packages: Record<string, string>;
}

export interface LoadSnapshot {
  at: string;
  loadavg1: number;
  loadavg5: number;
  /** Processes on the box that are not part of this run and look like test suites (jest). */
  otherTestProcesses: number;
}

function run(command: string, args: string[]): string {
  try {
    return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  } catch (err) {
    return `unavailable (${(err as Error).message.split('\n')[0]})`;
  }
}

export function machineInfo(): MachineInfo {
  const osRelease = existsSync('/etc/os-release') ? readFileSync('/etc/os-release', 'utf8') : '';
  const limits = readFileSync('/proc/self/limits', 'utf8');
  const openFiles = /^Max open files\s+(\S+)\s+(\S+)/m.exec(limits);
  return {
    cpuModel: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    kernel: release(),
    os: /^PRETTY_NAME="?([^"\n]+)"?/m.exec(osRelease)?.[1] ?? 'unknown',
    openFilesLimit: openFiles ? `soft ${openFiles[1]}, hard ${openFiles[2]}` : 'unknown',
  };
}

function packageVersion(name: string): string {
  try {
    return (JSON.parse(readFileSync(join(REPO_ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'missing';
  }
}

export function versions(): Versions {
  const packages = [
    'express',
    'express-rate-limit',
    'jsonwebtoken',
    'pino',
    '@nats-io/transport-node',
    '@nats-io/jetstream',
    '@nats-io/kv',
    'dockerode',
    'autocannon',
    'tsx',
    'esbuild',
  ];
  return {
    node: process.version,
    natsServer: run(findExecutable('nats-server'), ['--version']),
    dockerd: run(findExecutable('dockerd'), ['--version']),
    packages: Object.fromEntries(packages.map((name) => [name, packageVersion(name)])),
  };
}

export function gitInfo(): { commit: string; dirtyFiles: number } {
  const commit = run('git', ['-C', REPO_ROOT, 'rev-parse', '--short', 'HEAD']);
  const status = run('git', ['-C', REPO_ROOT, 'status', '--porcelain']);
  return { commit, dirtyFiles: status.startsWith('unavailable') ? -1 : status.split('\n').filter(Boolean).length };
}

/** Load on the box right now, and whether others' test suites are running beside us. */
export function loadSnapshot(ownPids: Set<number>): LoadSnapshot {
  const [one, five] = loadavg();
  let others = 0;
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || ownPids.has(pid)) continue;
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (/jest/.test(cmd) && !cmd.includes('/bench/')) others++;
    } catch {
      // gone
    }
  }
  return {
    at: new Date().toISOString(),
    loadavg1: Math.round(one * 100) / 100,
    loadavg5: Math.round(five * 100) / 100,
    otherTestProcesses: others,
  };
}
