/**
 * Lets the jobs of the calls that arrive in one turn of the event loop go out together.
 *
 * The NATS client writes what was published once the running microtasks are done: each call comes in its own I/O
 * callback, so each job would cost the gateway and the broker a socket write of its own, a system call that costs
 * them more than the rest of the job's dispatch. Calls that wait here are let through together once the loop has
 * read every request ready now (its check phase), one after the other in one microtask run: their jobs leave in one
 * write, and the broker reads them at once. A call waits at most until the loop's current turn ends.
 */
export class TurnGate {
  private open?: Promise<void>;

  /** Resolves, for every caller of this turn at once, when the event loop reaches its check phase. */
  next(): Promise<void> {
    this.open ??= new Promise((resolve) =>
      setImmediate(() => {
        this.open = undefined;
        resolve();
      }),
    );
    return this.open;
  }
}
