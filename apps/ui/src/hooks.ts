import { useEffect, useState } from 'preact/hooks';

export interface Polled<T> {
  data?: T;
  error?: string;
  refresh: () => void;
}

/**
 * Calls `load` now and every `everyMs` while the view is shown, so the page
 * follows the fleet without a reload; `stop` ends the polling once the data
 * can no longer change (a finished job).
 */
export function usePoll<T>(load: () => Promise<T>, everyMs: number, deps: unknown[], stop?: (data: T) => boolean): Polled<T> {
  const [state, setState] = useState<{ data?: T; error?: string }>({});
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let cancelled = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const round = async () => {
      try {
        const data = await load();
        if (cancelled) return;
        setState({ data });
        if (stop?.(data)) return;
      } catch (err) {
        if (cancelled) return;
        setState((prev) => ({ data: prev.data, error: (err as Error).message }));
      }
      timer = setTimeout(round, everyMs);
    };
    void round();
    return () => {
      cancelled = true;
      clearTimeout(timer);
    };
  }, [...deps, tick]);
  return { ...state, refresh: () => setTick((n) => n + 1) };
}
