/** SCALE HARNESS ONLY: starts swarm processes (./swarm.ts) and talks to them over IPC. */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, stopByPid, waitForExit } from '@fleet/deploy';
import type { SwarmConfig, SwarmReport, SwarmRequest } from './swarm-protocol';

export const SWARM_ENTRYPOINT = join(REPO_ROOT, 'bench', 'harness', 'swarm.ts');

type ReportOf<T extends SwarmReport['type']> = Extract<SwarmReport, { type: T }>;

export class SwarmProcess {
  private readonly child: ChildProcess;
  private readonly listeners = new Set<(report: SwarmReport) => void>();
  readonly pid: number;
  /**
   * Kept from the moment it arrives: a swarm whose agents were accepted while they started (the bench
   * accepts them meanwhile) can be ready before anyone asks, and its one 'ready' must not be missed.
   */
  private readyReport?: ReportOf<'ready'>;

  constructor(
    readonly config: SwarmConfig,
    logFile: string,
  ) {
    const log = openSync(logFile, 'a');
    try {
      this.child = spawn(process.execPath, ['--import', 'tsx', SWARM_ENTRYPOINT], {
        cwd: REPO_ROOT,
        env: { ...process.env, SWARM_CONFIG: JSON.stringify(config) },
        stdio: ['ignore', log, log, 'ipc'],
      });
    } finally {
      closeSync(log);
    }
    this.child.on('error', () => undefined);
    if (this.child.pid === undefined) throw new Error('could not start a swarm process');
    this.pid = this.child.pid;
    this.child.on('message', (report: SwarmReport) => {
      if (report.type === 'ready') this.readyReport = report;
      this.listeners.forEach((listener) => listener(report));
    });
  }

  /** Resolves with the first report of `type`, or rejects after `timeoutMs` or when the process exits. */
  next<T extends SwarmReport['type']>(
    type: T,
    timeoutMs: number,
    request?: SwarmRequest,
    onOther?: (report: SwarmReport) => void,
  ): Promise<ReportOf<T>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => done(new Error(`swarm ${this.pid}: no '${type}' within ${timeoutMs} ms`)), timeoutMs);
      const onExit = (code: number | null) => done(new Error(`swarm ${this.pid} exited (${code}) before '${type}'`));
      const listener = (report: SwarmReport) => {
        if (report.type === type) done(undefined, report as ReportOf<T>);
        else onOther?.(report);
      };
      const done = (err?: Error, report?: ReportOf<T>) => {
        clearTimeout(timer);
        this.listeners.delete(listener);
        this.child.off('exit', onExit);
        if (err) reject(err);
        else resolve(report as ReportOf<T>);
      };
      this.listeners.add(listener);
      this.child.once('exit', onExit);
      if (request) this.child.send(request);
    });
  }

  ready(timeoutMs: number, onProgress?: (started: number) => void): Promise<ReportOf<'ready'>> {
    if (this.readyReport) return Promise.resolve(this.readyReport);
    return this.next('ready', timeoutMs, undefined, (report) => report.type === 'progress' && onProgress?.(report.started));
  }

  stats(): Promise<ReportOf<'stats'>> {
    return this.next('stats', 10_000, { type: 'stats' });
  }

  restarts(): Promise<ReportOf<'restarts'>> {
    return this.next('restarts', 10_000, { type: 'restarts' });
  }

  counted(): Promise<ReportOf<'counted'>> {
    return this.next('counted', 10_000, { type: 'counted' });
  }

  arm(): Promise<ReportOf<'armed'>> {
    return this.next('armed', 10_000, { type: 'arm' });
  }

  release(): Promise<ReportOf<'released'>> {
    return this.next('released', 10_000, { type: 'release' });
  }

  /** Agents deregister; the process exits. Falls back to SIGTERM/SIGKILL by PID. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    try {
      if (this.child.connected) this.child.send({ type: 'stop' } satisfies SwarmRequest);
    } catch {
      // channel already gone; the signals below will do
    }
    if (await waitForExit(this.pid, 75_000)) return;
    await stopByPid(this.pid, { marker: SWARM_ENTRYPOINT });
  }
}
