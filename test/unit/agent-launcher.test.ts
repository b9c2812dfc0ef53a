/**
 * The agent's launcher (apps/agent/launcher.cjs, README "Upgrading agents") on its own: which build it runs,
 * a trial its new build claims in time, one it does not (the deadline fails it and stops the build), and one
 * whose build exits before claiming (the next start fails it and runs the previous build). The builds here
 * are small scripts that do what an agent does with the launcher's files.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LAUNCHER } from '../support/agent-launcher';
import { runProcess } from '../support/proc';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync('/tmp/launcher-test-');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const state = () => join(dir, 'state');
const read = (file: string) => readFileSync(join(state(), file), 'utf8');

/** A build: a script given its body, run by the launcher with FLEET_LAUNCHER_DIR set. */
function build(name: string, body: string): string {
  const file = join(dir, `${name}.js`);
  writeFileSync(
    file,
    `const fs = require('node:fs'); const path = require('node:path'); const dir = process.env.FLEET_LAUNCHER_DIR;\n${body}\n`,
  );
  return file;
}

function stage(version: string, body: string): void {
  mkdirSync(join(state(), 'builds', version), { recursive: true });
  writeFileSync(join(state(), 'builds', version, 'agent.js'), readFileSync(build(version, body)));
  writeFileSync(join(state(), 'trial.json'), JSON.stringify({ version, from: '1.0.0', job_id: 'job-1', deadline: Date.now() + 60_000 }));
}

function launch(trialSeconds = 30) {
  return runProcess(process.execPath, [LAUNCHER], {
    env: {
      PATH: process.env.PATH,
      FLEET_LAUNCHER_DIR: state(),
      FLEET_LAUNCHER_INITIAL_BUILD: build('initial', "fs.writeFileSync(path.join(dir, 'ran'), 'initial');"),
      FLEET_LAUNCHER_TRIAL_SECONDS: String(trialSeconds),
    },
    timeoutMs: 30_000,
    onTimeout: 'reject',
  });
}

/** What an agent does once it runs a tried build: claims the trial, then names itself current. */
const CLAIM = `fs.renameSync(path.join(dir, 'trying.json'), path.join(dir, 'confirmed.json')); fs.writeFileSync(path.join(dir, 'current'), '2.0.0');`;

describe('the agent launcher', () => {
  it("installs the initial build on its first start and runs it; its exit is the launcher's", async () => {
    expect((await launch()).code).toBe(0);
    expect(read('current')).toBe('initial');
    expect(read('ran')).toBe('initial');
    expect(JSON.parse(read('launcher.json'))).toMatchObject({ build: 'initial', trial: false });
  });

  it('refuses to start without its state directory', async () => {
    const res = await runProcess(process.execPath, [LAUNCHER], { env: { PATH: process.env.PATH }, timeoutMs: 30_000, onTimeout: 'reject' });
    expect(res.code).toBe(78);
    expect(res.stderr).toContain('FLEET_LAUNCHER_DIR');
  });

  it('runs a staged build on trial; claimed in time, it stays and becomes current', async () => {
    await launch();
    stage('2.0.0', `${CLAIM} setTimeout(() => fs.writeFileSync(path.join(dir, 'ran'), '2.0.0'), 500);`);
    expect((await launch(5)).code).toBe(0);
    expect(read('ran')).toBe('2.0.0');
    expect(read('current')).toBe('2.0.0');
    expect(existsSync(join(state(), 'failed.json'))).toBe(false);
    expect(JSON.parse(read('launcher.json'))).toMatchObject({ build: '2.0.0', trial: true });
  });

  it('fails a trial not claimed by its deadline: the build is stopped, failed.json says why, the previous build runs next', async () => {
    await launch();
    stage('2.0.0', `setTimeout(() => fs.writeFileSync(path.join(dir, 'ran'), '2.0.0'), 10_000);`);
    expect((await launch(0.5)).code).not.toBe(0);
    expect(read('ran')).toBe('initial');
    expect(JSON.parse(read('failed.json'))).toMatchObject({ version: '2.0.0', reason: 'it did not report its version within 0.5 s' });
    expect(existsSync(join(state(), 'trying.json'))).toBe(false);
    expect((await launch()).code).toBe(0);
    expect(JSON.parse(read('launcher.json'))).toMatchObject({ build: 'initial', trial: false });
  });

  it('fails a trial whose build exited before claiming it, on its next start, and runs the previous build', async () => {
    await launch();
    stage('2.0.0', 'process.exit(3);');
    expect((await launch()).code).toBe(3);
    expect(existsSync(join(state(), 'trying.json'))).toBe(true);
    expect((await launch()).code).toBe(0);
    expect(JSON.parse(read('failed.json'))).toMatchObject({
      version: '2.0.0',
      reason: 'the new build stopped before it reported its version',
    });
    expect(JSON.parse(read('launcher.json'))).toMatchObject({ build: 'initial', trial: false });
    expect(read('current')).toBe('initial');
  });
});
