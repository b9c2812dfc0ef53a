import { createPrivateKey } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { type Command, InvalidArgumentError } from 'commander';
import { isBuildVersion, signBuild } from '@fleet/contracts/agent-build';
import { listAgentBuilds, uploadAgentBuild, type AgentBuild } from '@fleet/sdk';
import { clientFor, globalsOf } from '../context';
import { detailsOf } from '../contract';
import { UsageError } from '../exit';
import { write, writeJson } from '../output';

// Loaded when `keygen` runs: @fleet/deploy brings the process tooling.
const deploy = () => require('@fleet/deploy') as typeof import('@fleet/deploy');

/** `fleet agent build keygen|sign|upload|ls` (README "Upgrading agents"). */
export function registerAgentBuildCommands(agent: Command): void {
  const build = agent.command('build').description('signed agent builds: make the release key, sign a bundle, upload it, list them');
  build
    .command('keygen')
    .description("make the fleet's release key pair (release.key for whoever signs builds, release.pub for the gateway and agents)")
    .requiredOption('--out <dir>', 'where to write release.key (mode 600) and release.pub; an existing pair is never replaced')
    .action((opts: { out: string }, command: Command) => {
      const files = deploy().createReleaseKeys(opts.out);
      if (globalsOf(command).json) writeJson(files);
      else
        write(
          `${files.privateKey}  keep it with whoever signs builds\n${files.publicKey}  FLEET_RELEASE_PUBLIC_KEY_FILE of the gateway and every agent`,
        );
    });
  build
    .command('sign <bundle>')
    .description('sign an agent bundle (dist/agent.js of a build) as a version, into a build file to upload')
    .requiredOption('--build-version <version>', 'the version the bundle reports (MAJOR.MINOR.PATCH[-pre])', parseVersion)
    .requiredOption('--key <file>', "the release key's private half (release.key)")
    .requiredOption('--out <file>', 'the signed build file to write')
    .action((bundle: string, opts: { buildVersion: string; key: string; out: string }, command: Command) => {
      const signed = signBuild(readFileSync(bundle), opts.buildVersion, createPrivateKey(readFileSync(opts.key)));
      writeFileSync(opts.out, signed);
      if (globalsOf(command).json) writeJson({ file: opts.out, version: opts.buildVersion, bytes: signed.length });
      else write(`${opts.out}: agent ${opts.buildVersion}, signed`);
    });
  build
    .command('upload <file>')
    .description(detailsOf('agentBuild.upload').summary)
    .action(async (file: string, _opts: unknown, command: Command) => {
      const signed = readFileSync(file);
      const version = versionOf(signed);
      const stored = await uploadAgentBuild(clientFor(command), version, signed);
      if (globalsOf(command).json) writeJson(stored);
      else write(`agent build ${stored.version} stored (sha256 ${stored.sha256}, ${stored.size} bytes)`);
    });
  build
    .command('list')
    .alias('ls')
    .description(detailsOf('agentBuild.list').summary)
    .action(async (_opts: unknown, command: Command) => {
      const builds = await listAgentBuilds(clientFor(command));
      if (globalsOf(command).json) writeJson({ builds });
      else write(builds.map(describe).join('\n') || 'no agent builds');
    });
}

function parseVersion(raw: string): string {
  if (!isBuildVersion(raw)) throw new InvalidArgumentError('MAJOR.MINOR.PATCH[-pre], e.g. 1.4.0');
  return raw;
}

/** The version a signed build file says it is (the gateway checks the signature; this only names the upload). */
function versionOf(signed: Buffer): string {
  const newline = signed.indexOf(0x0a);
  try {
    const version = (JSON.parse(signed.subarray(0, newline).toString('utf8')) as { manifest?: { version?: unknown } }).manifest?.version;
    if (newline > 0 && isBuildVersion(version)) return version;
  } catch {
    // refused below
  }
  throw new UsageError('not a signed build file: make one with `fleet agent build sign`');
}

function describe(build: AgentBuild): string {
  return `${build.version}  ${build.sha256.slice(0, 12)}  ${build.size} bytes  signed ${build.created_at}  by ${build.uploaded_by ?? '?'}`;
}
