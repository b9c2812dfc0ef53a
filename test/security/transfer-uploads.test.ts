/**
 * File transfers (README "File transfers"): an upload rests in the object store bucket
 * `fleet_uploads` under its job id, and each targeted agent reads it through the gateway that took
 * it; a file answer comes back from the job's one host. What an agent's own NATS login could try:
 * read another host's upload (through the gateway, or from the bucket below it), write into the
 * bucket, or pass its own bytes off as another host's file. Checked on the broker (what the bucket
 * holds, the server's permission violations) and on what the client receives.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { headers } from '@nats-io/transport-node';
import { pack } from 'tar-stream';
import {
  downloadSubject,
  objectChunkSubject,
  objectStreamName,
  TRANSFER_HEADERS,
  UPLOADS_BUCKET,
  uploadSubject,
} from '@fleet/contracts/protocol';
import { GATEWAY_LOGIN, useNatsLogins } from '../support/agent-login';
import { attack } from '../support/attacks';
import { useTestFleet } from '../support/suite';

const fleet = useTestFleet();
const SECRET_CONTENT = 'meant for web-01 only';
const logins = useNatsLogins(fleet, { db01: 'db-01', web01: 'web-01', gateway: GATEWAY_LOGIN });

/** A tar holding one file with the content no other host may read. */
async function secretTar(): Promise<Buffer> {
  const archive = pack();
  archive.entry({ name: 'secret.txt' }, SECRET_CONTENT);
  archive.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of archive) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Messages in the upload bucket's stream (chunks and their metadata), as the broker counts them. */
async function bucketMessages(): Promise<number> {
  const jsm = await jetstreamManager(logins.gateway.nc);
  return (await jsm.streams.info(objectStreamName(UPLOADS_BUCKET))).state.messages;
}

/** Chunks of uploads still held: none once every upload's job has ended. */
async function heldChunks(): Promise<number> {
  const jsm = await jetstreamManager(logins.gateway.nc);
  const info = await jsm.streams.info(objectStreamName(UPLOADS_BUCKET), { subjects_filter: objectChunkSubject(UPLOADS_BUCKET, '>') });
  return Object.values(info.state.subjects ?? {}).reduce((sum, count) => sum + count, 0);
}

/**
 * Runs `during` while an upload for web-01 is held: web-01's agent is frozen (SIGSTOP), so its job
 * stays pending and the gateway keeps offering the upload until the job's deadline.
 */
async function whileUploadHeld(during: (jobId: string) => Promise<void>): Promise<void> {
  await fleet.killAgent('web-01', 'SIGSTOP');
  try {
    const res = await fetch(`${fleet.url}/node/web-01/container/docker/any/archive?path=/tmp&async=true&timeout=6`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${fleet.adminKey}`, 'content-type': 'application/x-tar' },
      body: new Uint8Array(await secretTar()),
    });
    expect(res.status).toBe(202);
    const { job_id: jobId } = (await res.json()) as { job_id: string };
    expect(await heldChunks()).toBeGreaterThan(0);
    await during(jobId);
  } finally {
    await fleet.killAgent('web-01', 'SIGCONT');
  }
  // The job ends at its deadline (web-01 was frozen): the gateway then deletes the upload.
  for (let i = 0; i < 100 && (await heldChunks()) > 0; i++) await new Promise((resolve) => setTimeout(resolve, 200));
  expect(await heldChunks()).toBe(0);
}

attack("db-01's login asks for web-01's upload, through the gateway and from the bucket below it: it reads nothing", async () => {
  await whileUploadHeld(async (jobId) => {
    // The job's own host gets it: the content is really there to be had.
    const own = await logins.web01.nc.request(uploadSubject(jobId, 'web-01'), JSON.stringify({ after: 0 }), { timeout: 2000 });
    expect(own.string()).toContain(SECRET_CONTENT);
    // As web-01, on web-01's subject: the broker refuses the publish.
    await logins.db01.nc.request(uploadSubject(jobId, 'web-01'), JSON.stringify({ after: 0 }), { timeout: 1000 }).catch(() => undefined);
    await logins.db01.violationFor(uploadSubject(jobId, 'web-01'));
    // On its own subject: allowed by the broker, but db-01 is no host of the job, so the gateway says nothing.
    await expect(logins.db01.nc.request(uploadSubject(jobId, 'db-01'), JSON.stringify({ after: 0 }), { timeout: 1000 })).rejects.toThrow(
      /timeout/i,
    );
    // Below the gateway: a direct get of the chunks, a consumer on the bucket, the bucket's info.
    const stream = objectStreamName(UPLOADS_BUCKET);
    for (const subject of [
      `$JS.API.DIRECT.GET.${stream}`,
      `$JS.API.CONSUMER.CREATE.${stream}`,
      `$JS.API.STREAM.INFO.${stream}`,
      `$JS.API.STREAM.MSG.GET.${stream}`,
    ]) {
      const reply = await logins.db01.nc
        .request(subject, JSON.stringify({ next_by_subj: objectChunkSubject(UPLOADS_BUCKET, '>'), seq: 1 }), { timeout: 1000 })
        .catch(() => undefined);
      expect(reply?.string() ?? '').not.toContain(SECRET_CONTENT);
      await logins.db01.violationFor(subject);
    }
  });
});

attack("db-01's login writes into the upload bucket (a forged chunk, a forged object for a job): the broker stores nothing", async () => {
  const before = await bucketMessages();
  const forged = [objectChunkSubject(UPLOADS_BUCKET, 'forged'), `$O.${UPLOADS_BUCKET}.M.${Buffer.from('any-job').toString('base64url')}`];
  for (const subject of forged) {
    logins.db01.nc.publish(subject, 'forged by db-01');
    await logins.db01.violationFor(subject);
  }
  await logins.db01.nc.flush();
  expect(await bucketMessages()).toBe(before);
});

attack("db-01's login sends its own bytes as the file of web-01's export: the client receives none of them", async () => {
  await fleet.killAgent('web-01', 'SIGSTOP');
  try {
    const answer = fetch(`${fleet.url}/node/web-01/container/docker/any/export?timeout=4`, {
      headers: { authorization: `Bearer ${fleet.adminKey}` },
    });
    // The attacker is handed the job id (the strongest case): an admin reads it from the job list.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const jobs = await fetch(`${fleet.url}/job?operation=docker.container.export&limit=1`, {
      headers: { authorization: `Bearer ${fleet.adminKey}` },
    });
    const jobId = ((await jobs.json()) as { jobs: Array<{ job_id: string }> }).jobs[0].job_id;
    for (const [hostname, part, data] of [
      ['db-01', 'start', '{}'],
      ['db-01', 'data', 'forged-by-db-01'],
      ['db-01', 'end', ''],
    ]) {
      const partHeaders = headers();
      partHeaders.set(TRANSFER_HEADERS.seq, String(['start', 'data', 'end'].indexOf(part)));
      partHeaders.set(TRANSFER_HEADERS.part, part);
      await expect(logins.db01.nc.request(downloadSubject(jobId, hostname), data, { headers: partHeaders, timeout: 500 })).rejects.toThrow(
        /timeout/i,
      );
    }
    logins.db01.nc.publish(downloadSubject(jobId, 'web-01'), 'forged-as-web-01');
    await logins.db01.violationFor(downloadSubject(jobId, 'web-01'));
    const res = await answer;
    // web-01 never answered (frozen): the deadline's 504, with no forged byte in it.
    expect(res.status).toBe(504);
    expect(await res.text()).not.toMatch(/forged/);
  } finally {
    await fleet.killAgent('web-01', 'SIGCONT');
  }
});
