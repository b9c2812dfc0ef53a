import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { findExecutable } from '@fleet/deploy';

/*
 * The lab's wiring: each host is a network namespace with one veth on a bridge of the lab's own, addressed from
 * 198.18.0.0/15 (set aside for network test labs). Every name carries a per-run prefix, so two runs (or another
 * engineer's lab) never share a namespace, bridge or interface. The host's own namespace gets nothing but that
 * bridge, whose address is where the test runner sits: the operator's seat on the lab's network.
 */

/** The /24 of the lab's network, inside 198.18.0.0/15. */
const SUBNET = '198.18.0';
const PREFIX_LENGTH = 24;
export const OPERATOR_ADDRESS = `${SUBNET}.1`;
/** What the lab's engines may pull from over plain HTTP: the lab's own registry, never the internet. */
export const LAB_RANGE = '198.18.0.0/15';

export interface LabHost {
  name: string;
  netns: string;
  address: string;
  /** Its veth's end on the host's side, on the bridge. */
  veth: string;
}

export class LabNetwork {
  readonly prefix = `fl${randomBytes(2).toString('hex')}`;
  readonly bridge = `${this.prefix}br`;
  readonly hosts = new Map<string, LabHost>();
  private bridgeUp = false;

  /** Creates the bridge, with the operator's address on it. */
  open(): void {
    ip('link', 'add', this.bridge, 'type', 'bridge');
    this.bridgeUp = true;
    ip('addr', 'add', `${OPERATOR_ADDRESS}/${PREFIX_LENGTH}`, 'dev', this.bridge);
    ip('link', 'set', this.bridge, 'up');
  }

  /** A new namespace on the bridge at 198.18.0.<octet>, with loopback and eth0 up. */
  addHost(name: string, octet: number): LabHost {
    const host: LabHost = { name, netns: `${this.prefix}-${name}`, address: `${SUBNET}.${octet}`, veth: `${this.prefix}v${octet}` };
    const peer = `${this.prefix}p${octet}`;
    ip('netns', 'add', host.netns);
    this.hosts.set(name, host);
    ip('link', 'add', host.veth, 'type', 'veth', 'peer', 'name', peer);
    ip('link', 'set', host.veth, 'master', this.bridge);
    ip('link', 'set', host.veth, 'up');
    ip('link', 'set', peer, 'netns', host.netns);
    inNetns(host.netns, 'ip', 'link', 'set', peer, 'name', 'eth0');
    inNetns(host.netns, 'ip', 'addr', 'add', `${host.address}/${PREFIX_LENGTH}`, 'dev', 'eth0');
    inNetns(host.netns, 'ip', 'link', 'set', 'eth0', 'up');
    inNetns(host.netns, 'ip', 'link', 'set', 'lo', 'up');
    return host;
  }

  host(name: string): LabHost {
    const host = this.hosts.get(name);
    if (!host) throw new Error(`the lab has no host ${name} (has ${[...this.hosts.keys()].join(', ')})`);
    return host;
  }

  /**
   * Cuts `name` off from `peers` in both directions, inside its own namespace (the rules go with it). TCP is
   * answered with a reset, as a firewall that rejects: both ends learn of the cut at their next packet instead of
   * after their ping timeouts or write deadlines, which keeps the suite short; everything else is dropped. The
   * resets themselves must leave (they carry no data): REJECT's answer passes OUTPUT too.
   */
  cut(name: string, peers: string[]): void {
    const { netns } = this.host(name);
    for (const peer of peers.map((peerName) => this.host(peerName).address)) {
      inNetns(netns, 'iptables', '-A', 'INPUT', '-s', peer, '-p', 'tcp', '-j', 'REJECT', '--reject-with', 'tcp-reset');
      inNetns(netns, 'iptables', '-A', 'INPUT', '-s', peer, '-j', 'DROP');
      inNetns(netns, 'iptables', '-A', 'OUTPUT', '-d', peer, '-p', 'tcp', '--tcp-flags', 'RST', 'RST', '-j', 'ACCEPT');
      inNetns(netns, 'iptables', '-A', 'OUTPUT', '-d', peer, '-p', 'tcp', '-j', 'REJECT', '--reject-with', 'tcp-reset');
      inNetns(netns, 'iptables', '-A', 'OUTPUT', '-d', peer, '-j', 'DROP');
    }
  }

  /**
   * Like cut, but silent: packets vanish and neither end hears of it, as when a cable is pulled mid-call.
   */
  pullCable(name: string, peers: string[]): void {
    const { netns } = this.host(name);
    for (const peer of peers.map((peerName) => this.host(peerName).address)) {
      inNetns(netns, 'iptables', '-A', 'INPUT', '-s', peer, '-j', 'DROP');
      inNetns(netns, 'iptables', '-A', 'OUTPUT', '-d', peer, '-j', 'DROP');
    }
  }

  /** Removes every rule cut or pullCable added in the host's namespace (the lab adds no others there). */
  heal(name: string): void {
    const { netns } = this.host(name);
    inNetns(netns, 'iptables', '-F', 'INPUT');
    inNetns(netns, 'iptables', '-F', 'OUTPUT');
  }

  /** Deletes every namespace (which takes its veth end, processes' sockets and iptables rules along) and the bridge. */
  close(): void {
    const failures: string[] = [];
    for (const host of this.hosts.values()) {
      if (existsSync(join('/run/netns', host.netns))) removeQuietly(failures, 'netns', host.netns, () => ip('netns', 'delete', host.netns));
      // Deleting the namespace deletes the veth pair, but asynchronously: gone by now, or deleted here.
      removeQuietly(failures, 'link', host.veth, () => ip('link', 'delete', host.veth));
    }
    this.hosts.clear();
    if (this.bridgeUp) removeQuietly(failures, 'link', this.bridge, () => ip('link', 'delete', this.bridge));
    this.bridgeUp = false;
    if (failures.length > 0) throw new Error(`removing the lab ${this.prefix} failed: ${failures.join('; ')}`);
  }
}

/** Runs `remove`; a failure counts only when the namespace or link is still there afterwards. */
function removeQuietly(failures: string[], kind: 'netns' | 'link', name: string, remove: () => void): void {
  const present = () => existsSync(kind === 'netns' ? join('/run/netns', name) : join('/sys/class/net', name));
  if (!present()) return;
  try {
    remove();
  } catch (err) {
    if (present()) failures.push(`${kind} ${name}: ${(err as Error).message}`);
  }
}

function ip(...args: string[]): void {
  execFileSync(findExecutable('ip'), args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Runs a command inside a namespace and returns its stdout. */
export function inNetns(netns: string, command: string, ...args: string[]): string {
  return execFileSync(findExecutable('ip'), ['netns', 'exec', netns, command, ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 30_000,
  });
}
