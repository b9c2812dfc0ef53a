import { BrokerOutage } from './broker-outage';

describe('BrokerOutage', () => {
  const TTL = 15_000;
  let clock = 0;
  const outage = () => new BrokerOutage(TTL, () => clock);

  beforeEach(() => {
    clock = 100_000;
  });

  it('excuses nobody while the gateway never lost the broker', () => {
    expect(outage().excuses(0, clock)).toBe(false);
  });

  it('keeps an agent live at the disconnect live during the outage and for a TTL after the reconnect', () => {
    const broker = outage();
    const seenAt = clock - 10_000;
    broker.lost();
    clock += 60_000;
    expect(broker.excuses(seenAt, clock)).toBe(true);
    broker.regained();
    expect(broker.excuses(seenAt, clock + TTL - 1)).toBe(true);
    expect(broker.excuses(seenAt, clock + TTL)).toBe(false);
  });

  it('does not excuse an agent that was already silent for a TTL when the outage began', () => {
    const broker = outage();
    broker.lost();
    expect(broker.excuses(clock - TTL, clock)).toBe(false);
  });

  it('treats a second disconnect within the grace as the same outage', () => {
    const broker = outage();
    const seenAt = clock - 1_000;
    broker.lost();
    clock += 5_000;
    broker.regained();
    clock += 5_000;
    broker.lost();
    clock += 30_000;
    expect(broker.excuses(seenAt, clock)).toBe(true);
  });

  it('refuses calls only once the broker has been lost for 2 s, and no longer once it is back', () => {
    const broker = outage();
    expect(broker.refusesCalls()).toBe(false);
    broker.lost();
    clock += 1_999;
    expect(broker.refusesCalls()).toBe(false);
    clock += 1;
    expect(broker.refusesCalls()).toBe(true);
    broker.regained();
    expect(broker.refusesCalls()).toBe(false);
  });
});
