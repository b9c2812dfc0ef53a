/** A job's work did not settle by its deadline. */
export class DeadlineExceededError extends Error {
  override readonly name = 'DeadlineExceededError';

  constructor() {
    super('deadline');
  }
}

/**
 * A job's deadline: one timer, cleared the moment the job's work settles. Its AbortSignal is made
 * only when something asks for it (most reads never do) and aborts at the deadline with the reason
 * `AbortSignal.timeout()` gives. `AbortSignal.timeout()` itself would keep its timer, signal and
 * listeners alive until the deadline, up to 300 s after a job that took milliseconds.
 */
export class JobDeadline {
  private controller?: AbortController;
  private passed = false;

  /** `at`: epoch ms. */
  constructor(private readonly at: number) {}

  /** True once the deadline came before the work settled. */
  get expired(): boolean {
    return this.passed;
  }

  /** Aborted at the deadline; made on first use. */
  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.passed) this.controller.abort(timeoutReason());
    }
    return this.controller.signal;
  }

  /** Settles as `work` does, or rejects with DeadlineExceededError (and aborts the signal) when the deadline comes first. */
  bound<T>(work: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(
        () => {
          this.passed = true;
          this.controller?.abort(timeoutReason());
          reject(new DeadlineExceededError());
        },
        Math.max(0, this.at - Date.now()),
      );
      timer.unref();
      let running: Promise<T>;
      try {
        running = work();
      } catch (err) {
        running = Promise.reject(err);
      }
      running.then(
        (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        (err: unknown) => {
          clearTimeout(timer);
          reject(err);
        },
      );
    });
  }
}

/** What AbortSignal.timeout() aborts with. */
function timeoutReason(): DOMException {
  return new DOMException('The operation was aborted due to timeout', 'TimeoutError');
}
