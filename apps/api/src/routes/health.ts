import { ApiError } from '../api-error';
import type { GatewayHandlers } from './operation-table';

/** What /health/ready checks: the NATS connection, and the agents bucket answering over it. */
export interface Readiness {
  nats: 'connected' | 'disconnected';
  /** `ok`, or why the agents bucket did not answer (the contract's field name for it is `registry`). */
  registry: string;
}

export type ReadinessProbe = () => Promise<Readiness>;

/** Liveness and readiness; answered before authentication. */
export function healthHandlers(readiness?: ReadinessProbe): Pick<GatewayHandlers, 'health.live' | 'health.ready'> {
  return {
    'health.live': (_req, res) => {
      res.json({ status: 'ok' });
    },
    'health.ready': async (_req, res) => {
      const state: Readiness = readiness ? await readiness() : { nats: 'disconnected', registry: 'not configured' };
      if (state.nats === 'connected' && state.registry === 'ok') {
        res.json({ status: 'ready', ...state });
        return;
      }
      const down = [
        state.nats === 'connected' ? undefined : `nats: ${state.nats}`,
        state.registry === 'ok' ? undefined : `registry: ${state.registry}`,
      ];
      res.status(503).json({ ...new ApiError('not_ready', down.filter(Boolean).join('; ')).body(), ...state });
    },
  };
}
