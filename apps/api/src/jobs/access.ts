import { redactRow } from '@fleet/contracts/data-redaction';
import { findOperation } from '@fleet/contracts/operations';
import type { Permission } from '@fleet/contracts/permissions';
import type { HostRow, JobRecord, Rollout } from '@fleet/contracts/protocol';
import { ApiError, notFound } from '../api-error';
import type { KeyScope } from '../targets/scope';
import type { JobView } from './store';

/**
 * Who may read which job (README "Security model"). Reading a job's rows needs the permission of
 * the job's own operation (exec output needs docker:exec), as running it did; a scoped key sees
 * only the rows of the hosts inside its scope, and a job with none there does not exist for it.
 * Without `docker:read-data`, rows that hold a container's environment are read redacted, whoever ran the job.
 */
export class JobReadAccess {
  constructor(
    private readonly permissions: readonly Permission[],
    private readonly scope: KeyScope,
  ) {}

  /** The record cut to what this key may see, or why it may see nothing (a 404 outside the scope, a 403 without the permission). */
  check(record: JobRecord): JobRecord {
    const visible = this.visibleHosts(record);
    // README "Jobs that wait for a host": a waiting job no host has reached yet is seen by the keys whose scope covers its target.
    const waitingForAny = record.wait !== undefined && record.hosts.length === 0 && this.scope.coversTarget(record.target);
    if (visible.length === 0 && !waitingForAny) throw notFound('job not found', `no job '${record.job_id}' (it may have expired)`);
    const permission = requiredPermission(record);
    if (!permission || !this.permissions.includes(permission)) {
      throw new ApiError(
        'permission_denied',
        `reading a ${record.operation} job requires permission '${permission ?? 'unknown operation'}', like running it`,
      );
    }
    // The replay holds the job's parameters: a rerun reads them from the store, no reader ever does.
    // The authority is the starting key's permissions and id: a replica taking the rollout over reads it, no reader does.
    const { replay: _replay, authority: _authority, ...shown } = record;
    if (visible.length === record.hosts.length) return shown;
    return { ...shown, hosts: visible, ...(record.rollout ? { rollout: rolloutWithin(record.rollout, new Set(visible)) } : {}) };
  }

  /** For lists: the record cut to this key's view, or undefined when the key may not read it at all (it is left out). */
  filter(record: JobRecord): JobRecord | undefined {
    try {
      return this.check(record);
    } catch (err) {
      if (err instanceof ApiError) return undefined;
      throw err;
    }
  }

  /** A job view's rows as this key may read them (check() decided which hosts it shows). */
  present<View extends Pick<JobView, 'operation' | 'results'>>(view: View): View {
    return { ...view, results: readableRows(this.permissions, view.operation, view.results) };
  }

  /** One row as this key may read it. */
  presentRow(operation: string, row: HostRow): HostRow {
    return readableRows(this.permissions, operation, [row])[0];
  }

  private visibleHosts(record: JobRecord): string[] {
    return this.scope.unscoped ? record.hosts : record.hosts.filter((host) => this.scope.includesHost(host));
  }
}

/** A rollout's waves naming only the hosts a scoped key may see. */
function rolloutWithin(rollout: Rollout, visible: ReadonlySet<string>): Rollout {
  const waves = rollout.waves.map((wave) => ({
    ...wave,
    hosts: wave.hosts.filter((host) => visible.has(host)),
    ...(wave.failed ? { failed: wave.failed.filter((host) => visible.has(host)) } : {}),
  }));
  return { ...rollout, waves };
}

/** The operation's x-permission; a job of an operation no longer in the contract is readable by nobody. */
function requiredPermission(record: JobRecord): Permission | undefined {
  const permission = findOperation(record.operation)?.permission;
  return permission === 'none' ? undefined : permission;
}

/** Rows of `operation` as a key with `permissions` may read them: environments redacted without docker:read-data. */
export function readableRows(permissions: readonly Permission[], operation: string, rows: HostRow[]): HostRow[] {
  return permissions.includes('docker:read-data') ? rows : rows.map((row) => redactRow(operation, row));
}
