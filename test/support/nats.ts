import { readFileSync } from 'node:fs';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { serverList } from '@fleet/runtime/nats';
import { type FleetState } from '@fleet/deploy';

/**
 * A NATS connection of the test's own, logged in as the gateway when the fleet's NATS has users,
 * to look at (or tamper with) JetStream state behind the services' backs. Close it when done.
 */
export async function connectToFleetNats(state: FleetState): Promise<NatsConnection> {
  const login = state.natsUsers?.gateway;
  return connect({
    servers: serverList(state.natsUrl),
    name: 'fleet-test',
    user: login?.user,
    pass: login ? readFileSync(login.passwordFile, 'utf8').trim() : undefined,
    tls: state.tls?.nats ? { caFile: state.tls.caFile } : undefined,
    maxReconnectAttempts: 20,
    reconnectTimeWait: 250,
  });
}
