/**
 * What each NATS login may touch (README "What an agent's NATS login can and cannot do"), derived
 * from the protocol so that a subject is named in one place.
 *
 * An agent lives in an account of its own with no JetStream (./nats-accounts.ts): everything it
 * reaches in the gateway's account is one of the imports below, each with that host's name baked
 * in. A service import's reply subject is rewritten by the server into one that routes back only
 * into the importing account, so whatever reply subject an agent names, JetStream's and the
 * gateway's answers land in that agent's own account, where nothing else is. The same subjects
 * are also its user's publish/subscribe permissions (belt and braces).
 */
import {
  AGENTS_BUCKET,
  agentConsumerName,
  CANCEL_SUBJECT_PREFIX,
  downloadSubject,
  earlyRowSubject,
  identityRotatedSubject,
  identityRotateSubject,
  jobsStreamOf,
  JOBS_STREAM_PREFIX,
  kvSubject,
  proxyRequestSubject,
  proxyResponseSubject,
  RESULTS_BUCKET,
  resultKey,
  secretSubject,
  streamSubject,
  uploadSubject,
} from './protocol';

export interface SubjectPermissions {
  publish: { allow: string[] };
  subscribe: { allow: string[] };
}

/** Replies to an agent's requests (JetStream API, secrets) and its job deliveries arrive under this prefix only. */
export function agentInboxPrefix(hostname: string): string {
  return `_INBOX_${hostname}`;
}

/**
 * Where JetStream pushes the host's jobs: under the agent's own inbox prefix, so only that agent
 * may subscribe, and no other agent may publish there (a forged delivery would be a forged job).
 */
export function agentDeliverSubject(hostname: string): string {
  return `${agentInboxPrefix(hostname)}.jobs`;
}

/**
 * Whether an answer to `hostname`'s request may go to `reply`: only a subject that agent alone
 * receives. Through its account's service import the broker names `_R_.…`, which routes back into
 * that account only; on a NATS without accounts (a dev server) the agent's own inbox. The gateway
 * answers nothing else, so no agent makes it a deputy that writes where the agent may not.
 */
export function isOwnReplySubject(reply: string | undefined, hostname: string): boolean {
  return reply !== undefined && (reply.startsWith(SERVICE_IMPORT_REPLY_PREFIX) || reply.startsWith(`${agentInboxPrefix(hostname)}.`));
}

/** The prefix nats-server gives the reply subject of a request that crossed a service import. */
const SERVICE_IMPORT_REPLY_PREFIX = '_R_.';

/**
 * The JetStream API as an agent sees it. In an account without JetStream the server itself answers
 * every `$JS.API.>` request ("not enabled"), so the one API subject imported for an agent arrives
 * under this prefix instead; the agent's JetStream client is told to use it.
 */
export const AGENT_JETSTREAM_API_PREFIX = 'fleet.js.API';

/**
 * One subject of the gateway's account an agent reaches. `service`: the agent publishes or
 * requests on it (answers come back into the agent's account only); `stream`: the agent receives
 * what the gateway's account publishes on it.
 */
export interface AgentImport {
  kind: 'service' | 'stream';
  /** The subject in the gateway's account. */
  subject: string;
  /** The subject in the agent's account, when it is not the same. */
  as?: string;
  /** Why the agent needs it (one line). */
  reason: string;
}

/** The gateway's order to `hostname`'s agent to rotate its NATS identity (under its own inbox: only it receives it). */
export function agentRotateOrderSubject(hostname: string): string {
  return `${agentInboxPrefix(hostname)}.rotate`;
}

/** Everything `hostname`'s agent reaches in the gateway's account, and why. Nothing else exists in its account. */
export function agentImports(hostname: string): AgentImport[] {
  const stream = jobsStreamOf(hostname);
  const consumer = agentConsumerName(hostname);
  const consumerInfo = `CONSUMER.INFO.${stream}.${consumer}`;
  return [
    {
      kind: 'service',
      subject: `$JS.API.${consumerInfo}`,
      as: `${AGENT_JETSTREAM_API_PREFIX}.${consumerInfo}`,
      reason: 'binds to the push consumer the gateway made for it (and learns it was accepted)',
    },
    { kind: 'service', subject: `$JS.ACK.${stream}.${consumer}.>`, reason: 'acks (naks, terms) its own deliveries' },
    { kind: 'service', subject: kvSubject(RESULTS_BUCKET, resultKey('*', hostname)), reason: 'claims and writes its own result rows' },
    { kind: 'service', subject: kvSubject(AGENTS_BUCKET, hostname), reason: 'its heartbeat record in the registry' },
    {
      kind: 'service',
      subject: earlyRowSubject('*', hostname),
      reason: 'announces its rows to the waiting gateway before the durable write',
    },
    { kind: 'service', subject: streamSubject('*', hostname), reason: 'the chunks of its streamed jobs' },
    { kind: 'service', subject: secretSubject('*', hostname), reason: "asks the gateway for its job's credential" },
    { kind: 'service', subject: uploadSubject('*', hostname), reason: "reads its job's upload from the gateway, chunk by chunk" },
    { kind: 'service', subject: downloadSubject('*', hostname), reason: 'sends the file its job answers with to the gateway' },
    { kind: 'service', subject: proxyResponseSubject(hostname, '*'), reason: "answers its own host's Engine proxy sessions" },
    { kind: 'service', subject: identityRotateSubject(hostname), reason: 'asks for a user JWT for its new NKey, over its current login' },
    {
      kind: 'service',
      subject: identityRotatedSubject(hostname),
      reason: 'says its new login carries its work: its older keys may be revoked',
    },
    { kind: 'stream', subject: agentDeliverSubject(hostname), reason: 'its job deliveries' },
    { kind: 'stream', subject: agentRotateOrderSubject(hostname), reason: "an admin's order to rotate its identity" },
    { kind: 'stream', subject: `${CANCEL_SUBJECT_PREFIX}.*`, reason: 'cancels of streamed jobs (a job id says nothing of the job)' },
    { kind: 'stream', subject: proxyRequestSubject(hostname, '*'), reason: "its own host's Engine proxy sessions" },
  ];
}

/**
 * What the gateway's account exports: every agent import with the host's part (and its shard's
 * stream and consumer) a wildcard. Each export needs an activation, which names one account and
 * that host's own subject, so the wildcard grants nothing by itself.
 */
export function agentExports(): Pick<AgentImport, 'kind' | 'subject'>[] {
  const marker = '\u0000';
  const seen = new Map<string, Pick<AgentImport, 'kind' | 'subject'>>();
  for (const item of agentImports(marker)) {
    const generic = item.subject
      .split('.')
      .map((token) => (token.includes(marker) || token.startsWith(`${JOBS_STREAM_PREFIX}_`) ? '*' : token))
      .join('.');
    seen.set(`${item.kind} ${generic}`, { kind: item.kind, subject: generic });
  }
  return [...seen.values()];
}

/** The agent user's permissions: exactly its imports, as its account sees them, and its own inbox. */
export function agentPermissions(hostname: string): SubjectPermissions {
  const imports = agentImports(hostname);
  const seen = (item: AgentImport): string => item.as ?? item.subject;
  const inbox = `${agentInboxPrefix(hostname)}.>`;
  return {
    publish: { allow: imports.filter((item) => item.kind === 'service').map(seen) },
    subscribe: {
      allow: [inbox, ...imports.filter((item) => item.kind === 'stream' && !seen(item).startsWith(agentInboxPrefix(hostname))).map(seen)],
    },
  };
}

/** The gateway owns the topology and reads every row: it may use every subject of its account. */
export function gatewayPermissions(): SubjectPermissions {
  return { publish: { allow: ['>'] }, subscribe: { allow: ['>'] } };
}
