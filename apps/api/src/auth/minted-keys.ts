import type { KV } from '@nats-io/kv';
import type { MintedKeyRecord } from '@fleet/contracts/protocol';

/**
 * What the gateways know of the keys they minted (GET /token): each key's claims, who minted it
 * and when, in a KV bucket every replica shares. The key itself is never stored: a record says
 * which key exists, not how to present it.
 */
export class MintedKeys {
  constructor(private readonly bucket: KV) {}

  async record(record: MintedKeyRecord): Promise<void> {
    await this.bucket.put(record.jti, JSON.stringify(record));
  }

  /** Every record whose key has not expired, newest first. */
  async list(now = Date.now()): Promise<MintedKeyRecord[]> {
    const records: MintedKeyRecord[] = [];
    for await (const jti of await this.bucket.keys()) {
      const entry = await this.bucket.get(jti);
      if (entry?.operation !== 'PUT') continue;
      const record = entry.json<MintedKeyRecord>();
      if (Date.parse(record.expires_at) > now) records.push(record);
    }
    return records.sort((a, b) => b.minted_at.localeCompare(a.minted_at));
  }
}
