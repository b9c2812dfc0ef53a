import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AGENT_ENTRYPOINT, REPO_ROOT } from '@fleet/deploy';
import type { TestFleet } from './fleet';

/** The launcher a host installs once (README "Upgrading agents"). */
export const LAUNCHER = join(REPO_ROOT, 'apps', 'agent', 'launcher.cjs');

export interface LauncherOptions {
  /** The launcher's state directory. */
  dir: string;
  /** FLEET_LAUNCHER_TRIAL_SECONDS: how long a new build has to report. */
  trialSeconds: number;
  /** The agent's own copy of the release public key (FLEET_RELEASE_PUBLIC_KEY_FILE). */
  releasePublicKeyFile: string;
}

/**
 * What systemd's `Restart=always` does for deploy/systemd/fleet-agent.service, in the test: runs the
 * launcher, and starts it again whenever it exits, until stopped. Processes are followed by PID only.
 */
export class TestSupervisor {
  private child?: ChildProcess;
  private stopping = false;
  /** How many times the launcher was started. */
  starts = 0;

  private constructor(
    private readonly env: NodeJS.ProcessEnv,
    private readonly logFile: string,
  ) {}

  /**
   * Stops the fleet's agent on `hostname` (it deregisters) and runs it again under its launcher, with the
   * same settings it had (read from its process) and the launcher's: the first build is the fleet's dist/agent.js.
   */
  static async takeOver(fleet: TestFleet, hostname: string, opts: LauncherOptions): Promise<TestSupervisor> {
    const agentEnv = environmentOf(fleet.agentPid(hostname));
    await fleet.stopAgent(hostname);
    const supervisor = new TestSupervisor(
      {
        ...agentEnv,
        FLEET_LAUNCHER_DIR: opts.dir,
        FLEET_LAUNCHER_INITIAL_BUILD: AGENT_ENTRYPOINT,
        FLEET_LAUNCHER_TRIAL_SECONDS: String(opts.trialSeconds),
        FLEET_RELEASE_PUBLIC_KEY_FILE: opts.releasePublicKeyFile,
      },
      join(fleet.dir, 'logs', `launcher-${hostname}.log`),
    );
    supervisor.launch();
    return supervisor;
  }

  /** The PID of the agent build the launcher runs now, from its state file. */
  static running(dir: string): { build: string; trial: boolean; pid: number } | undefined {
    const file = join(dir, 'launcher.json');
    return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { build: string; trial: boolean; pid: number }) : undefined;
  }

  /** Stops the launcher (it stops its agent) and waits for it to exit; no restart follows. */
  async stop(): Promise<void> {
    this.stopping = true;
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const killed = setTimeout(() => child.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(killed);
  }

  private launch(): void {
    if (this.stopping) return;
    const log = openSync(this.logFile, 'a');
    this.starts++;
    this.child = spawn(process.execPath, [LAUNCHER], { env: this.env, stdio: ['ignore', log, log] });
    closeSync(log);
    this.child.once('exit', () => setTimeout(() => this.launch(), 200));
  }
}

/** A process's environment, as it was started (Linux /proc). */
function environmentOf(pid: number): NodeJS.ProcessEnv {
  const entries = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean);
  return Object.fromEntries(entries.map((entry) => [entry.slice(0, entry.indexOf('=')), entry.slice(entry.indexOf('=') + 1)]));
}
