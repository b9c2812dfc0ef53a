import { type Command, Option } from 'commander';
import type { FleetClient } from '@fleet/sdk';
import { clientFor, globalsOf } from '../context';
import { detailsOf } from '../contract';
import { exitCodeForRows } from '../exit';
import { renderRows, write, writeJson } from '../output';

const HOST_CHOICES = ['failed', 'timeout', 'skipped', 'all'];

/** `fleet job rerun <job_id> [--hosts failed|timeout|skipped|all]` (README "Rerunning a job"). */
export function registerJobRerunCommand(job: Command): void {
  job
    .command('rerun <job_id>')
    .description(detailsOf('job.rerun').summary)
    .addOption(new Option('--hosts <which>', 'which hosts of the job').choices(HOST_CHOICES).default('failed'))
    .option('--timeout <seconds>', "the new job's deadline (default the original's)", Number)
    .option('--async', 'answer at once with the new job id')
    .action(async (jobId: string, opts: { hosts: string; timeout?: number; async?: boolean }, command: Command) => {
      const query = {
        hosts: opts.hosts,
        ...(opts.timeout === undefined ? {} : { timeout: opts.timeout }),
        ...(opts.async ? { async: true } : {}),
      };
      const answer = await clientFor(command).jobs.rerun(jobId, query as Parameters<FleetClient['jobs']['rerun']>[1]);
      if (globalsOf(command).json) writeJson(answer);
      if (!('results' in answer)) {
        if (!globalsOf(command).json) write(`job ${answer.job_id} ${answer.status}; follow it: fleet job get ${answer.job_id} --wait`);
        return;
      }
      if (!globalsOf(command).json) write(`job ${answer.job_id}\n${renderRows(answer.results)}`);
      process.exitCode = exitCodeForRows(answer.results);
    });
}
