import { useEffect, useState } from 'preact/hooks';

export interface Polled<T> {
  data?: T;
  error?: string;
}

/**
 * Calls `load` now and every `everyMs` while the view is shown, so the page follows the fleet without a reload.
 */
export function usePoll<T>(load: () => Promise<T>, everyMs: number, deps: unknown[]): Polled<T> {
  const [state, setState] = useState<Polled<T>>({});
  useEffect(() => {
    let cancelled = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const round = async () => {
      try {
        const data = await load();
        if (cancelled) return;
        setState({ data });
      } catch (err) {
        if (cancelled) return;
        setState((prev) => ({ data: prev.data, error: messageOf(err) }));
      }
      timer = setTimeout(round, everyMs);
    };
    void round();
    return () => {
      cancelled = true;
      clearTimeout(timer);
    };
  }, deps);
  return state;
}

/** Re-renders every `everyMs`, so ages ("12s ago") stay true between events. */
export function useTick(everyMs: number): void {
  const [, setTick] = useState(0);
  useEffect(() => {
    const timer = setInterval(() => setTick((n) => n + 1), everyMs);
    return () => clearInterval(timer);
  }, [everyMs]);
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** What a button starts: which one is busy, what failed, and what waits for the user's confirmation. */
export interface Action<K> {
  /** The key of the work under way (a hostname, an action's name), if any. */
  busy?: K;
  error: string;
  /** The work asked for and not yet confirmed. */
  asked?: K;
  /** Runs `work` as `key`: busy meanwhile, its failure's message kept in `error`. */
  run: (key: K, work: () => Promise<unknown>) => Promise<void>;
  ask: (key: K) => void;
  cancel: () => void;
}

export function useAction<K = string>(): Action<K> {
  const [busy, setBusy] = useState<K | undefined>();
  const [error, setError] = useState('');
  const [asked, setAsked] = useState<K | undefined>();
  const run = async (key: K, work: () => Promise<unknown>) => {
    setAsked(undefined);
    setBusy(key);
    setError('');
    try {
      await work();
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(undefined);
    }
  };
  return { busy, error, asked, run, ask: setAsked, cancel: () => setAsked(undefined) };
}
