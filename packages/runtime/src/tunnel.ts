import type { Readable } from 'node:stream';
import {
  decodeProxyFrame,
  encodeProxyFrame,
  PROXY_CHUNK_BYTES,
  PROXY_FRAME,
  PROXY_SILENCE_MS,
  PROXY_WINDOW_BYTES,
  type ProxyFrameKind,
} from '@fleet/contracts/protocol';

/** A frame the flow did not consume itself (CREDIT and ALIVE are its own): OPEN, HEAD, DATA, END, ABORT. */
export interface TunnelFrame {
  kind: number;
  payload: Buffer;
}

/**
 * One side of an Engine proxy session's byte flow (protocol.ts, "The Engine API proxy's tunnel"),
 * shared by gateway and agent. Outgoing: DATA frames from a readable source, at most
 * PROXY_WINDOW_BYTES ahead of the other side's credit; the source is paused while there is none,
 * so a slow reader on the far end slows the source here (backpressure across NATS). Incoming: the
 * owner says how many bytes it handed on (`consumed`), and credit goes back in batches.
 */
export class TunnelFlow {
  private credit = PROXY_WINDOW_BYTES;
  private uncredited = 0;
  private lastHeard = Date.now();
  private readonly paused = new Set<Readable>();

  constructor(private readonly publish: (frame: Uint8Array) => void) {}

  send(kind: ProxyFrameKind, payload?: Uint8Array | string | object): void {
    this.publish(encodeProxyFrame(kind, payload));
  }

  /** Takes in a frame from the other side; returns it unless it was flow control. */
  hear(raw: Uint8Array): TunnelFrame | undefined {
    this.lastHeard = Date.now();
    const frame = decodeProxyFrame(raw);
    if (frame.kind === PROXY_FRAME.ALIVE) return undefined;
    if (frame.kind === PROXY_FRAME.CREDIT) {
      const granted = Number(frame.payload.toString('utf8'));
      if (Number.isSafeInteger(granted) && granted > 0) this.grant(granted);
      return undefined;
    }
    return frame;
  }

  /** Sends `source` as DATA frames and END when it ends; `onEnd` runs after END went out. */
  pipeFrom(source: Readable, onEnd?: () => void): void {
    source.on('data', (chunk: Buffer) => this.sendData(chunk, source));
    source.once('end', () => {
      this.send(PROXY_FRAME.END);
      onEnd?.();
    });
  }

  /** Sends bytes as DATA frames; pauses `source` once the other side's credit is spent. */
  sendData(chunk: Buffer, source?: Readable): void {
    for (let offset = 0; offset < chunk.length; offset += PROXY_CHUNK_BYTES) {
      this.send(PROXY_FRAME.DATA, chunk.subarray(offset, offset + PROXY_CHUNK_BYTES));
    }
    this.credit -= chunk.length;
    if (source && this.credit <= 0) {
      source.pause();
      this.paused.add(source);
    }
  }

  /** `bytes` of the other side's DATA were handed on: credit them back once a quarter window gathered. */
  consumed(bytes: number): void {
    this.uncredited += bytes;
    if (this.uncredited < PROXY_WINDOW_BYTES / 4) return;
    this.send(PROXY_FRAME.CREDIT, String(this.uncredited));
    this.uncredited = 0;
  }

  /** Says ALIVE; returns false when the other side has been silent past PROXY_SILENCE_MS. */
  keepAlive(now = Date.now()): boolean {
    this.send(PROXY_FRAME.ALIVE);
    return now - this.lastHeard <= PROXY_SILENCE_MS;
  }

  private grant(bytes: number): void {
    this.credit = Math.min(this.credit + bytes, PROXY_WINDOW_BYTES);
    if (this.credit <= 0) return;
    for (const source of this.paused) source.resume();
    this.paused.clear();
  }
}
