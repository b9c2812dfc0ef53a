/**
 * Each jest worker takes its servers' ports from a range of its own (FLEET_PORT_RANGE, read by freePort in
 * @fleet/deploy), below the kernel's ephemeral ports (32768 and up): suites running side by side never pick the same
 * port, and no outgoing connection is given one between the choice and the listen.
 */
const PORTS_PER_WORKER = 3000;
const FIRST_PORT = 20000;

const worker = Number(process.env.JEST_WORKER_ID ?? '1');
const first = FIRST_PORT + ((worker - 1) % 4) * PORTS_PER_WORKER;
process.env.FLEET_PORT_RANGE ??= `${first}-${first + PORTS_PER_WORKER - 1}`;
