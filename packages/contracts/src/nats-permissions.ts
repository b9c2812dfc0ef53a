/**
 * NATS subject permissions, derived from the protocol so that a subject is
 * named in one place. An agent may touch only what belongs to its own
 * hostname: it may look up and bind to its durable consumer and ack its
 * deliveries, write its result keys, early rows and registry key, publish on its stream
 * and secret subjects, answer its own Engine proxy sessions and hear only those,
 * and receive on its own inbox prefix (a shared
 * `_INBOX.>` would let one agent read another's deliveries). It may not create,
 * change or delete any consumer (the gateway creates each agent's, see
 * README "Security model": a consumer's deliver subject is not checked by the
 * server, so an agent allowed to shape its own could point it at another
 * host's inbox), nor read any stream's info (which lists every subject, i.e.
 * every job id and host).
 */
import {
  AGENTS_BUCKET,
  agentConsumerName,
  CANCEL_SUBJECT_PREFIX,
  downloadSubject,
  earlyRowSubject,
  jobsStreamOf,
  kvStreamName,
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

export function agentPermissions(hostname: string): SubjectPermissions {
  const consumer = agentConsumerName(hostname);
  const jobsStream = jobsStreamOf(hostname);
  const resultsStream = kvStreamName(RESULTS_BUCKET);
  const ownResults = kvSubject(RESULTS_BUCKET, resultKey('*', hostname));
  return {
    publish: {
      allow: [
        // The client's JetStream API check at connect; it says nothing about other hosts.
        '$JS.API.INFO',
        `$JS.API.CONSUMER.INFO.${jobsStream}.${consumer}`,
        `$JS.ACK.${jobsStream}.${consumer}.>`,
        ownResults,
        earlyRowSubject('*', hostname),
        `$JS.API.DIRECT.GET.${resultsStream}.${ownResults}`,
        kvSubject(AGENTS_BUCKET, hostname),
        streamSubject('*', hostname),
        secretSubject('*', hostname),
        // Answers to its own host's Engine proxy sessions only; opening one (`fleet.proxy.req.…`) is the gateway's.
        proxyResponseSubject(hostname, '*'),
        // File transfers go through the gateway, which answers only a job's own hosts: the upload
        // store itself (UPLOADS_BUCKET) has no subject here, so no agent reads or writes it directly.
        uploadSubject('*', hostname),
        downloadSubject('*', hostname),
      ],
    },
    subscribe: {
      allow: [`${agentInboxPrefix(hostname)}.>`, `${CANCEL_SUBJECT_PREFIX}.*`, proxyRequestSubject(hostname, '*')],
    },
  };
}

/** The gateway owns the topology and reads every row: it may use every subject. */
export function gatewayPermissions(): SubjectPermissions {
  return { publish: { allow: ['>'] }, subscribe: { allow: ['>'] } };
}
