/**
 * A bucket whose stream has no leader (README "Broker restarts"): two of three NATS nodes are frozen (SIGSTOP), so no
 * replica of a bucket can be elected and nothing answers a write to it. The gateway tries the write again for a few seconds
 * (nothing acted on it), then answers 503 `broker_unavailable` with Retry-After and its error body, never a 500; once
 * the nodes run again, the same call, repeated as its Retry-After says, is answered 201 and its token works.
 */
import { nkeys } from '@nats-io/transport-node';
import { JOIN_TOKENS_BUCKET, kvStreamName } from '@fleet/contracts/protocol';
import { waitFor, type NatsClusterNode } from '@fleet/deploy';
import { startTestFleet, type TestFleet } from '../support/fleet';
import { api, type ApiResponse } from '../support/http';

let fleet: TestFleet;

beforeAll(async () => {
  fleet = await startTestFleet({ natsCluster: 3, agents: [], gatewayEnv: { FLEET_JETSTREAM_REPLICAS: '3' } });
}, 180_000);

afterAll(async () => {
  // A frozen node would not stop: a failed test may have left one so.
  for (const node of fleet?.cluster?.nodes ?? []) process.kill(node.pid, 'SIGCONT');
  await fleet?.stop();
});

/** Who leads a stream, as one node sees it: its name, or '' while the stream's raft group has no leader. */
async function leaderSeenBy(node: NatsClusterNode, stream: string): Promise<string | undefined> {
  const res = await fetch(`http://${node.host}:${node.monitorPort}/jsz?accounts=true&streams=true`, { signal: AbortSignal.timeout(5_000) });
  const jsz = (await res.json()) as { account_details?: Array<{ stream_detail?: Array<{ name: string; cluster?: { leader?: string } }> }> };
  const found = (jsz.account_details ?? []).flatMap((account) => account.stream_detail ?? []).find((detail) => detail.name === stream);
  return found && (found.cluster?.leader ?? '');
}

/** The node the gateway's own connection (not its system account's) is on. */
async function gatewayNode(nodes: NatsClusterNode[]): Promise<NatsClusterNode> {
  for (const node of nodes) {
    const res = await fetch(`http://${node.host}:${node.monitorPort}/connz`, { signal: AbortSignal.timeout(5_000) });
    const connz = (await res.json()) as { connections?: Array<{ name?: string }> };
    if ((connz.connections ?? []).some((conn) => conn.name === 'fleet-gateway')) return node;
  }
  throw new Error('the gateway is connected to no node');
}

const issueJoinToken = () => api(fleet, 'POST', '/agent/web-09/join-token', { body: { ttl_seconds: 300 }, timeoutMs: 60_000 });

it('a join token asked for while its bucket has no leader: 503 broker_unavailable with Retry-After, then 201 once healed', async () => {
  const cluster = fleet.cluster;
  if (!cluster) throw new Error('the fleet runs without a NATS cluster');
  const stream = kvStreamName(JOIN_TOKENS_BUCKET);
  expect((await issueJoinToken()).status).toBe(201);
  // The node the gateway is connected to survives: its requests reach a server at once, and find no leader there.
  const survivor = await gatewayNode(cluster.nodes);
  // Frozen, not killed: nats-server 2.9.10 can panic when a node killed meanwhile is started again.
  const frozen = cluster.nodes.filter((node) => node !== survivor);
  for (const node of frozen) process.kill(node.pid, 'SIGSTOP');
  await waitFor(`${stream} to have no leader on ${survivor.serverName}`, async () => (await leaderSeenBy(survivor, stream)) === '', {
    timeoutMs: 30_000,
    intervalMs: 250,
  });

  const refused = await issueJoinToken();
  expect({ status: refused.status, retryAfter: refused.headers['retry-after'] }).toEqual({ status: 503, retryAfter: '1' });
  expect(refused.body).toEqual({
    error: 'broker unavailable',
    details: expect.stringContaining('retry'),
    code: 503,
    reason: 'broker_unavailable',
  });
  expect(fleet.log('gateway')).not.toContain('unhandled error');

  for (const node of frozen) process.kill(node.pid, 'SIGCONT');
  // As a client would: the same call again after each Retry-After, until the bucket has its leader back.
  const answers: ApiResponse[] = [];
  await waitFor(
    'the join token to be issued once the nodes run again',
    async () => {
      const answer = await issueJoinToken();
      answers.push(answer);
      if (answer.status === 503) await new Promise((resolve) => setTimeout(resolve, Number(answer.headers['retry-after']) * 1000));
      return answer.status !== 503;
    },
    { timeoutMs: 60_000, intervalMs: 0 },
  );
  expect(answers.map((answer) => answer.status).filter((status) => status !== 503)).toEqual([201]);
  const issued = answers[answers.length - 1];
  const joined = await api(fleet, 'POST', '/agent/join', {
    key: null,
    body: { hostname: 'web-09', token: issued.body.token, public_key: nkeys.createUser().getPublicKey() },
  });
  expect(joined.status).toBe(200);
  expect(fleet.log('gateway')).not.toContain('unhandled error');
}, 240_000);
