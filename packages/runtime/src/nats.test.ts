import { serverList } from './nats';

describe('serverList', () => {
  it('splits a comma-separated FLEET_NATS_URL into one URL per server', () => {
    expect(serverList('nats://127.0.0.1:4222,nats://127.0.0.1:4223, nats://127.0.0.1:4224')).toEqual([
      'nats://127.0.0.1:4222',
      'nats://127.0.0.1:4223',
      'nats://127.0.0.1:4224',
    ]);
  });

  it('keeps a single URL and an array as they are, without blanks', () => {
    expect(serverList('nats://127.0.0.1:4222')).toEqual(['nats://127.0.0.1:4222']);
    expect(serverList(['nats://a:1', ' ', 'nats://b:2'])).toEqual(['nats://a:1', 'nats://b:2']);
    expect(serverList('nats://a:1,,')).toEqual(['nats://a:1']);
  });
});
