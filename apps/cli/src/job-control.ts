import type { Command, Option } from 'commander';
import { JOB_CONTROL_PARAMS } from '@fleet/contracts/operations';
import type { OperationDetails, ParamSpec } from './contract';
import { type Binding, givenValues, kindOf, optionFor } from './flags';

/**
 * Job controls whose flags are built by hand: the target is `--target` (or an argument), `--timeout` and
 * `--async` check the contract's range themselves, and `Prefer: respond-async` is what `--async` means.
 * Every other `x-job-control` parameter is a flag typed from its schema (README "CLI").
 */
export const OWN_JOB_FLAGS: ReadonlySet<string> = new Set(['target', 'timeout', 'async', 'Prefer']);

/** The operation's `x-job-control` parameters that become flags as the contract types them: `--batch`, `--idempotency-key`… */
export function jobControlParams(details: OperationDetails): ParamSpec[] {
  return details.params.filter((param) => JOB_CONTROL_PARAMS.has(param.name) && !OWN_JOB_FLAGS.has(param.name) && param.in !== 'path');
}

/** Where the values of job-control flags go: the query (`--batch`) or a header (`--idempotency-key`). */
export interface JobControlBindings {
  query: Binding[];
  headers: Binding[];
}

/** The job-control flags as options, for a command that lists its options up front (`fleet run`); read back with `jobControlsGiven`. */
export function jobControlOptions(details: OperationDetails): { options: Option[]; bindings: JobControlBindings } {
  const options: Option[] = [];
  const bindings: JobControlBindings = { query: [], headers: [] };
  for (const param of jobControlParams(details)) {
    const kind = kindOf(param.schema, param.json);
    const option = optionFor(param.name, kind, param.schema, param.description);
    if (!option) continue;
    options.push(option);
    (param.in === 'header' ? bindings.headers : bindings.query).push({ field: param.name, attribute: option.attributeName(), kind });
  }
  return { options, bindings };
}

/** The job controls the user gave, keyed as the contract names them. */
export function jobControlsGiven(
  command: Command,
  bindings: JobControlBindings,
): { query: Record<string, unknown>; headers: Record<string, string> } {
  return { query: givenValues(command, bindings.query), headers: givenValues(command, bindings.headers) as Record<string, string> };
}

/** Job controls that are no wave parameter: a dry run, and a job that waits for hosts (README "Jobs that wait for a host"). */
const NOT_WAVES: ReadonlySet<string> = new Set(['dry_run', 'wait_for_host']);

/** A call given a job control that shapes how it runs (waves, order, gate), not only `--dry-run` or `--wait-for-host`. */
export function steersWaves(query: Record<string, unknown>): boolean {
  return Object.keys(query).some((name) => JOB_CONTROL_PARAMS.has(name) && !OWN_JOB_FLAGS.has(name) && !NOT_WAVES.has(name));
}
