/** The job could not be stored, so it was sent to no host; nothing of it is left behind. */
export class JobStoreUnavailableError extends Error {
  override readonly name = 'JobStoreUnavailableError';
}

/** The job's parameters cannot be serialised for the agents (JSON nested thousands deep): the caller's error. */
export class UnsendableParamsError extends Error {
  override readonly name = 'UnsendableParamsError';
}

/** The API key already holds as many long-running jobs as it may; it may try again once one ends. */
export class LongRunningLimitError extends Error {
  override readonly name = 'LongRunningLimitError';

  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message);
  }
}

/** `wait_for_host` with what a waiting job cannot keep (README "Jobs that wait for a host"): the caller's error. */
export class WaitRefusedError extends Error {
  override readonly name = 'WaitRefusedError';
}
