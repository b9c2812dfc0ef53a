import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BUSYBOX_IMAGE, dockerClient, type FleetState, REPO_ROOT } from '@fleet/deploy';
import type { Progress } from '../lib/context';
import { timeCommand } from '../lib/proc';
import { round } from '../lib/stats';

/** One command a pipeline step could run, timed from spawn to exit. */
export interface PipelineCommand {
  key: PipelineKey;
  label: string;
  /** The command line as a shell would show it (key and URL elided). */
  shown: string;
  medianMs: number;
  minMs: number;
  maxMs: number;
  samplesMs: number[];
  /** What the command listed: hosts answered and running containers seen (undefined: not a listing). */
  hosts?: number;
  containers?: number;
}

export type PipelineKey = 'node' | 'cliVersion' | 'cliList' | 'curlList' | 'ansibleList' | PipelineBaseline;

/**
 * The CLI as it started before two of its start-up changes, in the same rounds: the bundle compiled at start (no
 * code cache: \`node dist/fleet.js\`), and the listing with fetch's classes loaded (what every call did before the
 * SDK's JSON transport).
 */
export type PipelineBaseline = 'cliVersionCompiled' | 'cliListFetchLoaded';

export interface PipelinesResult {
  runs: number;
  engines: number;
  /** `ansible --version`'s first line, and the collection providing docker_host_info. */
  ansible: string;
  dockerCollection: string;
  commands: PipelineCommand[];
}

const CLI_BIN = join(REPO_ROOT, 'apps', 'cli', 'bin', 'fleet.js');
const CLI_BUNDLE = join(REPO_ROOT, 'dist', 'fleet.js');
const CONTAINER = 'bench-pipe';

/**
 * Ansible and its Docker SDK for Python, installed from Debian when missing (as deploy/install-deps.sh installs
 * what the tests need). Debian's `ansible` package ships the community collections, community.docker among them.
 */
export function ensureAnsible(progress: Progress): void {
  const missing = () =>
    spawnSync('sh', ['-c', 'command -v ansible >/dev/null && python3 -c "import docker"'], { stdio: 'ignore' }).status !== 0;
  if (!missing()) return;
  if (process.getuid?.() !== 0)
    throw new Error(
      'ansible and python3-docker are missing; install them (apt-get install ansible python3-docker) or run the bench as root',
    );
  progress.say('pipelines: installing Debian ansible and python3-docker');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-qq'], { env, stdio: 'ignore', timeout: 600_000 });
  execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'ansible', 'python3-docker'], {
    env,
    stdio: 'ignore',
    timeout: 1_200_000,
  });
  if (missing()) throw new Error('ansible or python3-docker still missing after apt-get install');
}

interface Subject {
  key: PipelineKey;
  label: string;
  shown: string;
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  /** Hosts and running containers in the output; throws when it is not the expected listing. */
  count?: (stdout: string) => { hosts: number; containers: number };
}

/**
 * Section "Pipelines": what a CI step pays to ask the fleet something, on the bench's real fleet (3 engines),
 * each command run `runs` times round robin (so a burst of load on the shared box hits them alike), medians:
 * `node -e 0` (Node's own start), `fleet --version` (the CLI's cold start), and one listing of the running
 * containers on every engine by the CLI, by curl against the gateway, and by Ansible's ad-hoc
 * community.docker.docker_host_info over the same engines (one inventory host per engine socket, one command).
 */
export async function runPipelines(state: FleetState, progress: Progress): Promise<PipelinesResult> {
  ensureAnsible(progress);
  const runs = 11;
  const dir = mkdtempSync('/tmp/flb-pipe-');
  const engines = state.agents.map((agent) => dockerClient(agent.socket));
  await Promise.all(
    engines.map((docker) =>
      docker
        .createContainer({ Image: BUSYBOX_IMAGE, name: CONTAINER, Cmd: ['sleep', '3600'], Labels: { 'fleet.bench': '1' } })
        .then((c) => c.start()),
    ),
  );
  try {
    const inventory = join(dir, 'engines.ini');
    writeFileSync(
      inventory,
      `[engines]\n${state.agents.map((agent) => `${agent.hostname} docker_host=unix://${agent.socket}`).join('\n')}\n`,
    );
    const base = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('FLEET_')));
    const cliEnv = { ...base, FLEET_URL: state.url, FLEET_API_KEY: state.adminKey, HOME: dir, XDG_CONFIG_HOME: join(dir, 'config') };
    const ansibleEnv = {
      ...base,
      HOME: dir,
      ANSIBLE_LOCAL_TEMP: join(dir, 'ansible-tmp'),
      ANSIBLE_PYTHON_INTERPRETER: '/usr/bin/python3',
      ANSIBLE_HOST_KEY_CHECKING: 'False',
      ANSIBLE_NOCOLOR: '1',
      ANSIBLE_DEPRECATION_WARNINGS: 'False',
    };
    const url = `${state.url}/node/_all/container/docker`;
    // Reading one of fetch's globals loads undici, as the SDK's first call did before its JSON transport.
    const loadFetch = join(dir, 'load-fetch.js');
    writeFileSync(loadFetch, 'void globalThis.Headers;\n');
    const listing = ['container', 'ls', '--target', '_all', '--json'];
    const subjects: Subject[] = [
      { key: 'node', label: 'Node alone', shown: 'node -e 0', command: process.execPath, args: ['-e', '0'], env: base },
      { key: 'cliVersion', label: 'CLI cold start', shown: 'fleet --version', command: CLI_BIN, args: ['--version'], env: cliEnv },
      {
        key: 'cliList',
        label: 'CLI listing',
        shown: 'fleet container ls --target _all --json',
        command: CLI_BIN,
        args: listing,
        env: cliEnv,
        count: countRows,
      },
      {
        key: 'cliVersionCompiled',
        label: 'CLI cold start, bundle compiled at start',
        shown: 'node dist/fleet.js --version',
        command: process.execPath,
        args: [CLI_BUNDLE, '--version'],
        env: cliEnv,
      },
      {
        key: 'cliListFetchLoaded',
        label: "CLI listing, fetch's classes loaded",
        shown: 'node -r load-fetch.js apps/cli/bin/fleet.js container ls --target _all --json',
        command: process.execPath,
        args: ['-r', loadFetch, CLI_BIN, ...listing],
        env: cliEnv,
        count: countRows,
      },
      {
        key: 'curlList',
        label: 'curl listing',
        shown: 'curl -s -H "Authorization: Bearer $KEY" $FLEET_URL/node/_all/container/docker',
        command: 'curl',
        args: ['-sf', '-H', `Authorization: Bearer ${state.adminKey}`, url],
        env: base,
        count: countRows,
      },
      {
        key: 'ansibleList',
        label: 'Ansible ad-hoc listing',
        shown:
          `ansible engines -i engines.ini -c local -m community.docker.docker_host_info -a 'docker_host={{ docker_host }} ` +
          `containers=true'`,
        command: 'ansible',
        args: [
          'engines',
          '-i',
          inventory,
          '-c',
          'local',
          '-o',
          '-m',
          'community.docker.docker_host_info',
          '-a',
          'docker_host={{ docker_host }} containers=true',
        ],
        env: ansibleEnv,
        count: countAnsible,
      },
    ];
    // One untimed run each: the page cache holds every file afterwards, as on a CI runner that ran a step before.
    for (const subject of subjects) await timeCommand(subject.command, subject.args, subject.env);
    const samples = new Map<PipelineKey, Array<{ ms: number; stdout: string }>>(subjects.map((s) => [s.key, []]));
    for (let pass = 0; pass < runs; pass++) {
      for (const subject of subjects) samples.get(subject.key)?.push(await timeCommand(subject.command, subject.args, subject.env));
    }
    const commands = subjects.map((subject) => summarizeSubject(subject, samples.get(subject.key) ?? []));
    for (const c of commands)
      progress.say(
        `  ${c.shown.slice(0, 60)}: median ${c.medianMs} ms (min ${c.minMs}, max ` +
          `${c.maxMs})${c.hosts !== undefined ? `, ${c.hosts} hosts, ${c.containers} containers` : ''}`,
      );
    return {
      runs,
      engines: engines.length,
      ansible: firstLine(execFileSync('ansible', ['--version'], { env: ansibleEnv, encoding: 'utf8' })),
      dockerCollection: dockerCollection(ansibleEnv),
      commands,
    };
  } finally {
    await Promise.all(
      engines.map((docker) =>
        docker
          .getContainer(CONTAINER)
          .remove({ force: true })
          .catch(() => undefined),
      ),
    );
    rmSync(dir, { recursive: true, force: true });
  }
}

function summarizeSubject(subject: Subject, runs: Array<{ ms: number; stdout: string }>): PipelineCommand {
  const sorted = runs.map((run) => run.ms).sort((a, b) => a - b);
  const counted = subject.count?.(runs[runs.length - 1]?.stdout ?? '');
  return {
    key: subject.key,
    label: subject.label,
    shown: subject.shown,
    medianMs: round(sorted[Math.floor(sorted.length / 2)], 1),
    minMs: round(sorted[0], 1),
    maxMs: round(sorted[sorted.length - 1], 1),
    samplesMs: runs.map((run) => round(run.ms, 1)),
    ...(counted ?? {}),
  };
}

/** The gateway's answer (the CLI's --json is it as is): one row per host, each with its containers. */
function countRows(stdout: string): { hosts: number; containers: number } {
  const body = JSON.parse(stdout) as { results: Array<{ status: string; containers?: unknown[] }> };
  const failed = body.results.filter((row) => row.status !== 'ok');
  if (failed.length > 0) throw new Error(`listing had ${failed.length} failed rows`);
  return { hosts: body.results.length, containers: body.results.reduce((sum, row) => sum + (row.containers?.length ?? 0), 0) };
}

/** `ansible -o`: one line per host, `<host> | SUCCESS => {json}`. */
function countAnsible(stdout: string): { hosts: number; containers: number } {
  const lines = stdout.split('\n').filter((line) => line.includes(' | '));
  const ok = lines.filter((line) => / \| SUCCESS => /.test(line));
  if (ok.length !== lines.length || ok.length === 0) throw new Error(`ansible: not every host succeeded: ${stdout.slice(0, 400)}`);
  const containers = ok.reduce(
    (sum, line) => sum + ((JSON.parse(line.slice(line.indexOf('=> ') + 3)) as { containers?: unknown[] }).containers?.length ?? 0),
    0,
  );
  return { hosts: ok.length, containers };
}

function firstLine(text: string): string {
  return text.split('\n')[0].trim();
}

function dockerCollection(env: NodeJS.ProcessEnv): string {
  const listed = spawnSync('ansible-galaxy', ['collection', 'list', 'community.docker'], { env, encoding: 'utf8' });
  const line = listed.stdout.split('\n').find((candidate) => candidate.startsWith('community.docker'));
  return line ? line.replace(/\s+/g, ' ').trim() : 'community.docker';
}
