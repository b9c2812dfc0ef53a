import { readFileSync } from 'node:fs';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { natsLogin, serverList } from '@fleet/runtime/nats';
import { type FleetState } from '@fleet/deploy';

/**
 * A NATS connection of the test's own, logged in as the gateway when the fleet's NATS has an operator,
 * to look at (or tamper with) JetStream state behind the services' backs. Close it when done.
 */
export async function connectToFleetNats(state: FleetState): Promise<NatsConnection> {
  const creds = state.natsOperator ? readFileSync(state.natsOperator.gatewayCredsFile, 'utf8') : undefined;
  return connect({
    servers: serverList(state.natsUrl),
    name: 'fleet-test',
    ...natsLogin(creds),
    tls: state.tls?.nats ? { caFile: state.tls.caFile } : undefined,
    maxReconnectAttempts: 20,
    reconnectTimeWait: 250,
  });
}
