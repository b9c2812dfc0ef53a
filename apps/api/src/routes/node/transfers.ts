import { randomUUID } from 'node:crypto';
import type { Request, Response } from 'express';
import type { OperationSpec } from '@fleet/contracts/operations';
import type { HostRow } from '@fleet/contracts/protocol';
import { ApiError, badRequest, hostFailure } from '../../api-error';
import type { JobClient, JobRequest, StartedJob } from '../../jobs/client';
import { TargetResolver } from '../../targets/resolve';
import type { AgentBuilds } from '../../agents/builds';
import type { Download, DownloadStart } from '../../transfers/downloads';
import type { StoredUpload, UploadStore } from '../../transfers/uploads';

/** What the node routes need for operations whose body or answer is a file (README "File transfers"). */
export interface Transfers {
  uploads: UploadStore;
  /** Listens for one job's file from its host. */
  openDownload(jobId: string): Download;
  /** Signed agent builds, read by the hosts of an upgrade job (README "Upgrading agents"). */
  agentBuilds?: AgentBuilds;
}

/**
 * An agent upgrade's job carries its build as a file the gateway already holds: the job message
 * announces its bytes and its hosts may read it, chunk by chunk, while the job runs.
 */
export async function attachAgentBuild(agentBuilds: AgentBuilds | undefined, request: JobRequest): Promise<void> {
  if (request.operation !== 'docker.agent.upgrade') return;
  // A build runs the agent itself: no key confined to some hosts may replace what runs on them.
  if (request.scope !== undefined) {
    throw new ApiError('out_of_scope', `upgrading agents needs an unscoped key; this key is scoped to '${request.scope}'`);
  }
  if (!agentBuilds) throw new ApiError('conflict', 'this gateway keeps no agent builds');
  const { version } = request.params.body as { version: string };
  const build = await agentBuilds.forJob(version);
  const announce = request.onCreated;
  request.upload = { bytes: build.bytes };
  request.onCreated = (record) => {
    build.offer(record.job_id, record.hosts, Date.parse(record.deadline));
    announce?.(record);
  };
}

/** The only headers of a sending host's start message that reach the client: the Engine's own stat of an archived path. */
const FORWARDED_FILE_HEADERS = ['x-docker-container-path-stat'];

/**
 * Streams the request body into the upload store under a new job id, once the target is known to
 * reach hosts inside the caller's scope (a body for nowhere is never read).
 */
export async function receiveUpload(
  uploads: UploadStore,
  jobs: JobClient,
  req: Request,
  target: string,
  scope: string | undefined,
): Promise<StoredUpload> {
  jobs.previewTarget(target, scope);
  const declared = req.get('content-length');
  return uploads.receive(randomUUID(), req, declared === undefined ? undefined : Number(declared));
}

/**
 * Starts the job with its upload, offers the upload to the job's hosts before they can ask for it,
 * and deletes it when the job ends (or at once when the job cannot start).
 */
export async function startWithUpload(
  jobs: JobClient,
  uploads: UploadStore,
  upload: StoredUpload,
  request: JobRequest,
): Promise<StartedJob> {
  try {
    const job = await jobs.start({
      ...request,
      jobId: upload.jobId,
      upload: { bytes: upload.bytes },
      onCreated: (record) => {
        uploads.offer(upload, record.hosts);
        request.onCreated?.(record);
      },
    });
    job.rows.finally(() => uploads.remove(upload.jobId)).catch(() => undefined);
    return job;
  } catch (err) {
    await uploads.remove(upload.jobId);
    throw err;
  }
}

/**
 * Runs a job that answers with a file on its one host and streams the file to the client as it
 * comes. A failure before the first byte is answered like any single-host failure; one after it
 * cuts the connection, so a partial file never looks whole.
 */
export async function answerWithFile(
  spec: OperationSpec,
  transfers: Transfers,
  jobs: JobClient,
  request: JobRequest,
  res: Response,
): Promise<void> {
  // A target that is malformed, matches nothing or reaches outside the key's scope is refused as for any call.
  jobs.previewTarget(request.target, request.scope);
  if (!TargetResolver.isSingleHost(request.target)) {
    throw badRequest(
      `${spec.name} answers with one host's ${spec.downloadMediaType}: target a hostname or _any, not '${request.target}' (to fetch ` +
        `from several hosts, call each by name)`,
    );
  }
  const jobId = randomUUID();
  const download = transfers.openDownload(jobId);
  let job: StartedJob;
  try {
    job = await jobs.start({ ...request, jobId, download: true, onCreated: (record) => download.expect(record.hosts) });
  } catch (err) {
    download.close();
    throw err;
  }
  res.locals.jobId = jobId;
  const start = await Promise.race([download.started, job.rows.then(() => undefined)]);
  if (!start) {
    download.close();
    throw noFile(spec, jobId, await job.rows);
  }
  res.status(200).set(fileHeaders(spec, jobId, start));
  res.flushHeaders();
  let complete = false;
  download.finished.then(
    () => (complete = true),
    () => undefined,
  );
  download.pipeTo((chunk) => writeTo(res, chunk));
  const rows = await job.rows;
  download.close();
  if (complete && rows[0]?.status === 'ok') res.end();
  else res.destroy();
}

function fileHeaders(spec: OperationSpec, jobId: string, start: DownloadStart): Record<string, string> {
  const forwarded = Object.entries(start.headers).filter(([name]) => FORWARDED_FILE_HEADERS.includes(name.toLowerCase()));
  return {
    'content-type': spec.downloadMediaType as string,
    'x-fleet-job-id': jobId,
    'x-fleet-hostname': start.hostname,
    ...Object.fromEntries(forwarded),
  };
}

/** The job ended before its host sent a byte: its row says why. */
function noFile(spec: OperationSpec, jobId: string, rows: HostRow[]): ApiError {
  const row = rows[0];
  if (row?.status === 'failed') return hostFailure(spec.name, row, jobId);
  const details = `${spec.name} ended on ${row?.hostname ?? 'its host'} without sending its file`;
  return new ApiError('engine_unavailable', details, { error: 'no file', extra: { job_id: jobId } });
}

/** Resolves true once the chunk is taken (at once, or after the client drained), false when the client is gone. */
function writeTo(res: Response, chunk: Uint8Array): Promise<boolean> {
  if (res.destroyed || res.writableEnded) return Promise.resolve(false);
  if (res.write(chunk)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const settle = (taken: boolean) => {
      res.off('drain', onDrain);
      res.off('close', onClose);
      resolve(taken);
    };
    const onDrain = () => settle(true);
    const onClose = () => settle(false);
    res.once('drain', onDrain);
    res.once('close', onClose);
  });
}
