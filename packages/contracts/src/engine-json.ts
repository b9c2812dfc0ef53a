/**
 * Reads a JSON body the way the Docker engine will (Go's encoding/json), into an explicit model,
 * refusing what the two could read differently (README "Host-level access"). Go matches a field
 * name without case (exact first, else case-folded, with Unicode folds such as 'ſ' → 's' and the
 * Kelvin sign → 'k'), lets the last of duplicate keys win and merges duplicate objects, and skips
 * unknown fields. So: a key must be exactly one of the model's fields, appear once, and hold the
 * field's type; anything else is an EngineBodyError naming the field path. The decoded value,
 * serialised again, is the only body that may reach the engine.
 */

/** The shape of one value of a model, as Go decodes it. `null` is accepted everywhere (Go's zero value). */
export type JsonModel =
  | { kind: 'string' | 'boolean' | 'integer' }
  /** Go's StrSlice (Cmd, Entrypoint, CapAdd, …): a string or a list of strings, decoded as a list. */
  | { kind: 'strslice' }
  | { kind: 'list'; of: JsonModel }
  /** An object with arbitrary keys (Labels, PortBindings, …). */
  | { kind: 'map'; of: JsonModel }
  /** A struct: only these fields, spelled exactly. */
  | { kind: 'struct'; fields: Readonly<Record<string, JsonModel>> };

export const string: JsonModel = { kind: 'string' };
export const boolean: JsonModel = { kind: 'boolean' };
export const integer: JsonModel = { kind: 'integer' };
export const strslice: JsonModel = { kind: 'strslice' };
export const listOf = (of: JsonModel): JsonModel => ({ kind: 'list', of });
export const mapOf = (of: JsonModel): JsonModel => ({ kind: 'map', of });
export const struct = (fields: Record<string, JsonModel>): JsonModel => ({ kind: 'struct', fields });

/** A body the engine could read otherwise than the gateway: `field` is its path (`HostConfig.Binds[0]`). */
export class EngineBodyError extends Error {
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super(`${field === '' ? 'the body' : field}: ${reason}`);
  }
}

/** Decodes `text` as one value of `model`; throws EngineBodyError for anything the model does not name exactly. */
export function decodeEngineJson(text: string, model: JsonModel): unknown {
  const reader = new JsonReader(text);
  const value = reader.value(model, '');
  reader.end();
  return value;
}

/** Go's case folding of a field name, as far as it maps distinct keys onto one field. */
function foldName(name: string): string {
  return name
    .replace(/\u017F/g, 's')
    .replace(/\u212A/g, 'k')
    .toLowerCase();
}

const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const INTEGER_LITERAL = /^-?(?:0|[1-9][0-9]*)$/;
/** Go decodes a lone UTF-16 surrogate escape as U+FFFD. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** U+0000–U+001F are not allowed unescaped inside a JSON string. */
function hasControlCharacter(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) < 0x20) return true;
  return false;
}

class JsonReader {
  private pos = 0;

  constructor(private readonly text: string) {}

  end(): void {
    this.space();
    if (this.pos < this.text.length) throw new EngineBodyError('', `unexpected data after the JSON value at byte ${this.pos}`);
  }

  value(model: JsonModel, path: string): unknown {
    this.space();
    if (this.text.startsWith('null', this.pos)) {
      this.pos += 4;
      return null;
    }
    switch (model.kind) {
      case 'string':
        return this.string(path);
      case 'boolean':
        return this.boolean(path);
      case 'integer':
        return this.integer(path);
      case 'strslice':
        return this.peek() === '"' ? [this.string(path)] : this.list(string, path);
      case 'list':
        return this.list(model.of, path);
      case 'map':
        return this.object(path, (_key, at) => this.value(model.of, at));
      case 'struct':
        return this.object(path, (key, at) => {
          const field = model.fields[key];
          if (field && Object.hasOwn(model.fields, key)) return this.value(field, at);
          const folded = Object.keys(model.fields).find((name) => foldName(name) === foldName(key));
          if (folded)
            throw new EngineBodyError(
              at,
              `the field is '${folded}': the engine matches field names regardless of case, so only the exact name is accepted`,
            );
          throw new EngineBodyError(at, 'unknown field (only the fields this gateway judges may reach the engine)');
        });
    }
  }

  private object(path: string, member: (key: string, at: string) => unknown): Record<string, unknown> {
    // No prototype: a key such as `__proto__` is data here, as it is to the engine.
    const result: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
    this.sequence('{', '}', path, 'an object', () => {
      this.space();
      const key = this.string(path);
      const at = path === '' ? key : `${path}.${key}`;
      if (Object.hasOwn(result, key)) throw new EngineBodyError(at, 'duplicate key (the engine would take the last one)');
      this.space();
      this.expect(':', at, "':'");
      result[key] = member(key, at);
    });
    return result;
  }

  private list(of: JsonModel, path: string): unknown[] {
    const result: unknown[] = [];
    this.sequence('[', ']', path, 'a list', () => {
      result.push(this.value(of, `${path}[${result.length}]`));
    });
    return result;
  }

  /** `open`, then `item` for each comma-separated item (none when `close` follows at once), then `close`. */
  private sequence(open: string, close: string, path: string, what: string, item: () => void): void {
    this.expect(open, path, what);
    this.space();
    if (this.peek() === close) {
      this.pos++;
      return;
    }
    for (;;) {
      item();
      this.space();
      if (this.peek() === ',') {
        this.pos++;
        continue;
      }
      this.expect(close, path, `',' or '${close}'`);
      return;
    }
  }

  private string(path: string): string {
    if (this.peek() !== '"') throw this.unexpected(path, 'a string');
    let end = this.pos + 1;
    let escaped = false;
    while (end < this.text.length && this.text[end] !== '"') {
      if (this.text[end] === '\\') {
        escaped = true;
        end += 2;
      } else {
        end += 1;
      }
    }
    if (end >= this.text.length) throw new EngineBodyError(path, 'unterminated string');
    const raw = this.text.slice(this.pos + 1, end);
    this.pos = end + 1;
    if (hasControlCharacter(raw)) throw new EngineBodyError(path, 'a control character inside a string');
    if (!escaped) return raw;
    try {
      return (JSON.parse(`"${raw}"`) as string).replace(LONE_SURROGATE, '\uFFFD');
    } catch {
      throw new EngineBodyError(path, 'invalid escape in a string');
    }
  }

  private boolean(path: string): boolean {
    for (const literal of [true, false]) {
      if (this.text.startsWith(String(literal), this.pos)) {
        this.pos += String(literal).length;
        return literal;
      }
    }
    throw this.unexpected(path, 'true or false');
  }

  private integer(path: string): number {
    const literal = this.numberLiteral(path, 'an integer');
    const value = Number(literal);
    if (!INTEGER_LITERAL.test(literal) || !Number.isSafeInteger(value))
      throw new EngineBodyError(path, 'expected an integer the engine reads as one (no fraction or exponent, at most 2^53)');
    return value;
  }

  private numberLiteral(path: string, what: string): string {
    NUMBER.lastIndex = this.pos;
    const match = NUMBER.exec(this.text);
    if (!match) throw this.unexpected(path, what);
    this.pos += match[0].length;
    return match[0];
  }

  private expect(char: string, path: string, what: string): void {
    if (this.peek() !== char) throw this.unexpected(path, what);
    this.pos++;
  }

  /** Says where, never what: the body may hold a credential (`/auth`). */
  private unexpected(path: string, what: string): EngineBodyError {
    return new EngineBodyError(
      path,
      this.pos < this.text.length ? `expected ${what} at character ${this.pos}` : `expected ${what}, found the end of the body`,
    );
  }

  private peek(): string | undefined {
    return this.text[this.pos];
  }

  private space(): void {
    while (this.pos < this.text.length && ' \t\n\r'.includes(this.text[this.pos])) this.pos++;
  }
}
