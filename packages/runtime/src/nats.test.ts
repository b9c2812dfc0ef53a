import type { PeerCertificate } from 'node:tls';
import { serverIdentityCheck, serverList } from './nats';

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

describe('serverIdentityCheck', () => {
  // What Node hands the check: the subject and the SANs as the handshake parsed them.
  const certFor = (san: string) => ({ subject: { CN: 'fleet nats-server' }, subjectaltname: san }) as unknown as PeerCertificate;
  const check = serverIdentityCheck(['tls://198.18.0.11:4222', 'tls://198.18.0.12:4222']);

  it('dialled by IP (checked as localhost), takes a certificate naming one of the listed addresses', () => {
    expect(check('localhost', certFor('IP Address:198.18.0.12'))).toBeUndefined();
  });

  it('refuses a certificate naming an address that is not in the list', () => {
    expect(check('localhost', certFor('IP Address:198.18.0.99'))?.message).toMatch(/does not match certificate's altnames/);
  });

  it('checks a server dialled by name against that name only', () => {
    expect(check('nats.example', certFor('DNS:nats.example'))).toBeUndefined();
    expect(check('nats.example', certFor('IP Address:198.18.0.11'))?.message).toMatch(/does not match certificate's altnames/);
  });
});
