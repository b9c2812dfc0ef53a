/**
 * Calls `fire` once `Date.now()` has reached `at` (epoch ms); the returned function cancels it.
 *
 * A job's deadline is a wall-clock time, and what is read right after it (`effectiveRow`) compares
 * against `Date.now()`. A plain `setTimeout(fire, at - Date.now())` runs on the monotonic clock in
 * whole milliseconds, so it can fire up to a millisecond before the wall clock gets there, and any
 * amount before should the wall clock be stepped back meanwhile; a host that never answered would
 * then still read as pending instead of as the deadline's 504. Firing early re-arms for the rest.
 */
export function whenClockReaches(at: number, fire: () => void): () => void {
  let timer: NodeJS.Timeout;
  const arm = () => {
    timer = setTimeout(() => (Date.now() >= at ? fire() : arm()), Math.max(0, at - Date.now()));
  };
  arm();
  return () => clearTimeout(timer);
}
