#!/usr/bin/env node
/**
 * The agent's launcher (README "Upgrading agents"): installed once, never replaced by an upgrade, run by
 * the supervisor (deploy/systemd/fleet-agent.service, Restart=always). It chooses which agent build to
 * run from its state directory, runs it as its child, and exits when the child does, for the supervisor
 * to start it again. The files and their order are apps/agent/src/upgrade-state.ts':
 *
 *   a staged trial.json   → renamed trying.json, its build run on trial for FLEET_LAUNCHER_TRIAL_SECONDS;
 *                           the new build claims it (trying.json → confirmed.json) once it runs and reports
 *   the deadline first    → trying.json → failed.json with the reason, the child stopped; next start runs `current` again
 *   trying.json at start  → the trial build exited before it claimed: failed.json, and `current` runs
 *
 * Plain Node, no dependency: it must keep working whatever build it runs.
 *
 *   FLEET_LAUNCHER_DIR             its state directory (required)
 *   FLEET_LAUNCHER_INITIAL_BUILD   the agent bundle installed as the first build when there is none (dist/agent.js)
 *   FLEET_LAUNCHER_TRIAL_SECONDS   how long a new build has to report its version (default 60)
 */
const { spawn } = require('node:child_process');
const { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');
const { clearTimeout, setTimeout } = require('node:timers');

const FILES = { current: 'current', trial: 'trial.json', trying: 'trying.json', failed: 'failed.json', state: 'launcher.json' };
const INITIAL = 'initial';
const EX_CONFIG = 78;

function fail(message) {
  process.stderr.write(`fleet-agent-launcher: ${message}\n`);
  process.exit(EX_CONFIG);
}

const dir = process.env.FLEET_LAUNCHER_DIR;
if (!dir) fail('FLEET_LAUNCHER_DIR is not set: the directory where agent builds are kept');
const trialSeconds = Number(process.env.FLEET_LAUNCHER_TRIAL_SECONDS ?? 60);
if (!(trialSeconds > 0)) fail('FLEET_LAUNCHER_TRIAL_SECONDS must be a positive number');

const path = (name) => join(dir, name);
const bundleOf = (build) => join(dir, 'builds', build, 'agent.js');

function writeAtomically(name, text) {
  const temporary = `${path(name)}.${process.pid}.tmp`;
  writeFileSync(temporary, text, { mode: 0o600 });
  renameSync(temporary, path(name));
}

/** Renames `from` to `to`: true for whoever moved it first (the new build or this launcher), false when it was gone. */
function claim(from, to) {
  try {
    renameSync(path(from), path(to));
    return true;
  } catch (err) {
    if (err.code === 'ENOENT') return false;
    throw err;
  }
}

/** The trial failed, if the new build did not claim it first: failed.json says why, for the previous build to report. */
function failTrial(reason) {
  if (!claim(FILES.trying, FILES.failed)) return false;
  const trial = JSON.parse(readFileSync(path(FILES.failed), 'utf8'));
  writeAtomically(FILES.failed, JSON.stringify({ ...trial, reason }));
  return true;
}

function installInitialBuild() {
  if (existsSync(path(FILES.current))) return;
  const initial = process.env.FLEET_LAUNCHER_INITIAL_BUILD;
  if (!initial) fail('no build installed yet: set FLEET_LAUNCHER_INITIAL_BUILD to the agent bundle (dist/agent.js)');
  mkdirSync(join(dir, 'builds', INITIAL), { recursive: true, mode: 0o700 });
  copyFileSync(initial, bundleOf(INITIAL));
  writeAtomically(FILES.current, INITIAL);
}

/** Which build runs now, and whether on trial. */
function choose() {
  if (existsSync(path(FILES.trying))) failTrial('the new build stopped before it reported its version');
  if (claim(FILES.trial, FILES.trying)) {
    const trial = JSON.parse(readFileSync(path(FILES.trying), 'utf8'));
    return { build: trial.version, trial: true };
  }
  return { build: readFileSync(path(FILES.current), 'utf8').trim(), trial: false };
}

function run({ build, trial }) {
  const child = spawn(process.execPath, [bundleOf(build)], {
    stdio: 'inherit',
    env: { ...process.env, FLEET_LAUNCHER_DIR: dir },
  });
  writeAtomically(
    FILES.state,
    JSON.stringify({ build, trial, pid: child.pid, launcher_pid: process.pid, started_at: new Date().toISOString() }),
  );
  const deadline = trial
    ? setTimeout(() => {
        if (failTrial(`it did not report its version within ${trialSeconds} s`)) child.kill('SIGKILL');
      }, trialSeconds * 1000)
    : undefined;
  for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => {
    clearTimeout(deadline);
    process.exit(code ?? (signal === 'SIGKILL' ? 1 : 0));
  });
}

mkdirSync(dir, { recursive: true, mode: 0o700 });
installInitialBuild();
run(choose());
