import { waitFor } from '@fleet/deploy';
import type { Lab } from './lab';

/** What a server's /jsz answers with accounts and streams (the fields read here). */
interface Jsz {
  account_details?: Array<{ name: string; stream_detail?: Array<{ name: string; cluster?: RaftGroup }> }>;
}

interface RaftGroup {
  leader?: string;
  replicas?: Array<{ name: string; current?: boolean }>;
}

/**
 * Why JetStream would not take every write yet, as the servers themselves report it; undefined once each stream has the
 * one leader all the servers holding it name, and that leader counts each other replica current.
 */
export function jetStreamUnsettled(lab: Lab, natsHosts: string[]): string | undefined {
  const views = natsHosts.map((host) => ({
    server: lab.monitor<{ server_name: string }>(host, '/varz').server_name,
    streams: streamsOf(lab.monitor<Jsz>(host, '/jsz?accounts=true&streams=true')),
  }));
  const names = new Set(views.flatMap((view) => [...view.streams.keys()]));
  for (const name of names) {
    const leaders = new Set(views.filter((view) => view.streams.has(name)).map((view) => view.streams.get(name)?.leader ?? ''));
    const [leader] = leaders;
    if (leaders.size !== 1 || !leader) return `${name}: leaders named ${[...leaders].map((named) => named || 'none').join(', ')}`;
    const own = views.find((view) => view.server === leader)?.streams.get(name);
    const behind = (own?.replicas ?? []).filter((replica) => !replica.current).map((replica) => replica.name);
    if (!own || behind.length > 0) return `${name}: its leader ${leader} counts ${behind.join(', ') || 'its replicas'} not current`;
  }
  return undefined;
}

function streamsOf(jsz: Jsz): Map<string, RaftGroup> {
  const streams = new Map<string, RaftGroup>();
  for (const account of jsz.account_details ?? []) {
    for (const stream of account.stream_detail ?? []) streams.set(`${account.name}/${stream.name}`, stream.cluster ?? {});
  }
  return streams;
}

/**
 * Waits until JetStream takes writes on every stream again after a server rejoined: a server cut off campaigns for
 * leadership with ever higher terms, and once healed it makes the leaders step down, so the raft groups elect again
 * for some seconds after its routes are back (and after /healthz says ok).
 */
export async function waitForJetStreamSettled(lab: Lab, natsHosts: string[], timeoutMs = 60_000): Promise<void> {
  await waitFor(
    'every JetStream stream to have one leader that counts its replicas current',
    () => {
      const unsettled = jetStreamUnsettled(lab, natsHosts);
      if (unsettled) throw new Error(unsettled);
      return true;
    },
    { timeoutMs, intervalMs: 250 },
  );
}
