/**
 * Request-body decoding as kube-apiserver v1.20 does it: a syntax check with Go's encoding/json (to find
 * apiVersion/kind), then a typed decode with json-iterator into the Go struct. The typed decode drops unknown
 * fields, applies Go's zero values and omitempty rules, and reports the first error the way json-iterator
 * does (`v1.Lease.Spec: v1.LeaseSpec.RenewTime: unmarshalerDecoder: ..., error found in #10 byte of ...|x|...`).
 */
import { RFC3339, RFC3339_MICRO, formatMicroTime, formatTime, goParseTime } from './microtime.ts';
import type { StructSchema, TypeSchema } from './schemas.ts';
import type { Json, JsonObject } from './types.ts';

/** A Go encoding/json syntax error (message without the "json: " style prefix, as Go prints it). */
export class SyntaxError_ extends Error {}

const WS = new Set([0x20, 0x09, 0x0a, 0x0d]);

const goQuoteChar = (c: number): string => {
  if (c === 0x27) return `'\\''`;
  if (c === 0x22) return `'"'`;
  if (c < 0x20 || c === 0x7f) return `'\\x${c.toString(16).padStart(2, '0')}'`;
  return `'${String.fromCharCode(c)}'`;
};

/** A small JSON reader over bytes that knows where it is (json-iterator's `head`). */
class Reader {
  readonly buf: Buffer;
  pos = 0;
  constructor(buf: Buffer) {
    this.buf = buf;
  }
  skipWs(): void {
    while (this.pos < this.buf.length && WS.has(this.buf[this.pos]!)) this.pos++;
  }
  peek(): number | undefined {
    this.skipWs();
    return this.buf[this.pos];
  }
  /** Parses any JSON value; throws SyntaxError_ with Go's messages. `after` names the context for errors. */
  value(): Json {
    const c = this.peek();
    if (c === undefined) throw new SyntaxError_('unexpected end of JSON input');
    if (c === 0x7b) return this.object();
    if (c === 0x5b) return this.array();
    if (c === 0x22) return this.string();
    if (c === 0x2d || (c >= 0x30 && c <= 0x39)) return this.number();
    for (const [word, v] of [
      ['true', true],
      ['false', false],
      ['null', null],
    ] as const) {
      if (this.buf.toString('latin1', this.pos, this.pos + word.length) === word) {
        this.pos += word.length;
        return v;
      }
      if (c === word.charCodeAt(0)) {
        for (let i = 0; i < word.length; i++) {
          const b = this.buf[this.pos + i];
          if (b === undefined) throw new SyntaxError_('unexpected end of JSON input');
          if (b !== word.charCodeAt(i))
            throw new SyntaxError_(
              `invalid character ${goQuoteChar(b)} in literal ${word} (expecting ${goQuoteChar(word.charCodeAt(i))})`,
            );
        }
      }
    }
    throw new SyntaxError_(`invalid character ${goQuoteChar(c)} looking for beginning of value`);
  }
  string(): string {
    const start = this.pos;
    this.pos++;
    while (true) {
      const b = this.buf[this.pos];
      if (b === undefined) throw new SyntaxError_('unexpected end of JSON input');
      if (b === 0x22) break;
      if (b < 0x20) throw new SyntaxError_(`invalid character ${goQuoteChar(b)} in string literal`);
      if (b === 0x5c) {
        const e = this.buf[this.pos + 1];
        if (e === undefined) throw new SyntaxError_('unexpected end of JSON input');
        if (!'"\\/bfnrtu'.includes(String.fromCharCode(e)))
          throw new SyntaxError_(`invalid character ${goQuoteChar(e)} in string escape code`);
        this.pos += 2;
        continue;
      }
      this.pos++;
    }
    this.pos++;
    try {
      return JSON.parse(this.buf.toString('utf8', start, this.pos)) as string;
    } catch {
      throw new SyntaxError_('invalid character in \\u hexadecimal character escape');
    }
  }
  number(): number {
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(this.buf.toString('latin1', this.pos, this.pos + 400));
    if (!m) {
      const next = this.buf[this.pos + 1];
      if (next === undefined) throw new SyntaxError_('unexpected end of JSON input');
      throw new SyntaxError_(`invalid character ${goQuoteChar(next)} in numeric literal`);
    }
    this.pos += m[0].length;
    return Number(m[0]);
  }
  object(): JsonObject {
    this.pos++;
    const out: JsonObject = {};
    if (this.peek() === 0x7d) {
      this.pos++;
      return out;
    }
    while (true) {
      const c = this.peek();
      if (c === undefined) throw new SyntaxError_('unexpected end of JSON input');
      if (c !== 0x22)
        throw new SyntaxError_(`invalid character ${goQuoteChar(c)} looking for beginning of object key string`);
      const key = this.string();
      const colon = this.peek();
      if (colon === undefined) throw new SyntaxError_('unexpected end of JSON input');
      if (colon !== 0x3a) throw new SyntaxError_(`invalid character ${goQuoteChar(colon)} after object key`);
      this.pos++;
      out[key] = this.value();
      const next = this.peek();
      if (next === undefined) throw new SyntaxError_('unexpected end of JSON input');
      this.pos++;
      if (next === 0x7d) return out;
      if (next !== 0x2c) throw new SyntaxError_(`invalid character ${goQuoteChar(next)} after object key:value pair`);
    }
  }
  array(): Json[] {
    this.pos++;
    const out: Json[] = [];
    if (this.peek() === 0x5d) {
      this.pos++;
      return out;
    }
    while (true) {
      out.push(this.value());
      const next = this.peek();
      if (next === undefined) throw new SyntaxError_('unexpected end of JSON input');
      this.pos++;
      if (next === 0x5d) return out;
      if (next !== 0x2c) throw new SyntaxError_(`invalid character ${goQuoteChar(next)} after array element`);
    }
  }
}

/** Go encoding/json over the whole body: a syntax error message, or the parsed document. */
export function parseJsonDocument(body: Buffer): { ok: true; value: Json } | { ok: false; error: string } {
  const r = new Reader(body);
  try {
    const v = r.value();
    const rest = r.peek();
    if (rest !== undefined) return { ok: false, error: `invalid character ${goQuoteChar(rest)} after top-level value` };
    return { ok: true, value: v };
  } catch (e) {
    if (e instanceof SyntaxError_) return { ok: false, error: e.message };
    throw e;
  }
}

const jsonTypeName = (v: Json): string =>
  v === null
    ? 'null'
    : Array.isArray(v)
      ? 'array'
      : typeof v === 'object'
        ? 'object'
        : typeof v === 'boolean'
          ? 'bool'
          : typeof v;

/** json-iterator's typed decode of `body` into `schema`; the body must already be valid JSON. */
export function typedDecode(body: Buffer, schema: StructSchema): { value: JsonObject; error: string | undefined } {
  const d = new TypedDecoder(body);
  const value = d.struct(schema) ?? emptyStruct(schema);
  return { value, error: d.error };
}

class TypedDecoder {
  readonly r: Reader;
  error: string | undefined;
  /** Decoding stopped early after an error (see the time types in `value`). */
  halted = false;
  constructor(buf: Buffer) {
    this.r = new Reader(buf);
  }

  /** json-iterator's Iterator.ReportError: only the first error counts; the context is taken at `head`. */
  report(op: string, msg: string, head: number): void {
    if (this.error !== undefined) return;
    const buf = this.r.buf;
    const peekStart = Math.max(0, head - 10);
    const parsing = buf.toString('utf8', peekStart, Math.min(head + 10, buf.length));
    const context = buf.toString('utf8', Math.max(0, head - 50), Math.min(head + 50, buf.length));
    this.error = `${op}: ${msg}, error found in #${head - peekStart} byte of ...|${parsing}|..., bigger context ...|${context}|...`;
  }

  /**
   * json-iterator's ReadInt32 over its readUint32: the magnitude is read as a uint32 whose overflow check only catches
   * a wrap that makes the value smaller (so 5000000000 silently becomes 705032704, as kube-apiserver stores it); a
   * magnitude beyond int32 is then `ReadInt32: overflow: N`.
   */
  readInt32(text: string, start: number): number | undefined {
    const negative = text.startsWith('-');
    let value = 0;
    for (const digit of negative ? text.slice(1) : text) {
      const next = value * 10 + (digit.charCodeAt(0) - 48);
      if (value > 429_496_728) {
        const wrapped = next >>> 0;
        if (wrapped < value) {
          this.report('readUint32', 'overflow', start + text.length);
          return undefined;
        }
        value = wrapped;
      } else {
        value = next;
      }
    }
    if (value > (negative ? 2_147_483_648 : 2_147_483_647)) {
      this.report('ReadInt32', `overflow: ${value}`, start + text.length);
      return undefined;
    }
    return negative ? -value : value;
  }

  /** Decodes one value of `type`; returns `undefined` for a Go nil/zero the encoder would omit. */
  value(type: TypeSchema): Json | undefined {
    const r = this.r;
    const c = r.peek();
    const start = r.pos;
    switch (type.t) {
      case 'raw':
        return r.value();
      case 'string': {
        if (c === 0x22) return r.string();
        if (c === 0x6e) {
          r.value();
          return undefined;
        }
        this.report('ReadString', `expects " or n, but found ${String.fromCharCode(c ?? 0)}`, start + 1);
        r.value();
        return undefined;
      }
      case 'int32':
      case 'int64': {
        if (c === 0x6e) {
          r.value();
          return undefined;
        }
        if (c === 0x2d || (c !== undefined && c >= 0x30 && c <= 0x39)) {
          const text = /^-?\d*/.exec(r.buf.toString('latin1', r.pos, r.pos + 40))?.[0] ?? '';
          const n = r.value();
          if (typeof n === 'number' && !Number.isInteger(n)) {
            this.report('assertInteger', 'can not decode float as int', start + text.length);
            return undefined;
          }
          if (type.t === 'int32' && typeof n === 'number') return this.readInt32(text, start);
          return n;
        }
        this.report(type.t === 'int32' ? 'readUint32' : 'readUint64', 'unexpected character: \ufffd', start + 1);
        r.value();
        return undefined;
      }
      case 'bool': {
        if (c === 0x74 || c === 0x66 || c === 0x6e) {
          const v = r.value();
          return v === null ? undefined : v;
        }
        this.report('ReadBool', `expect t or f, but found ${String.fromCharCode(c ?? 0)}`, start + 1);
        r.value();
        return undefined;
      }
      case 'microtime':
      case 'time': {
        // After an earlier error json-iterator's unmarshalerDecoder consumes nothing, so every enclosing struct stops
        // at the next token (not a comma): the field names added end here.
        if (this.error !== undefined) {
          this.halted = true;
          return undefined;
        }
        const v = r.value();
        if (v === null) return undefined;
        if (typeof v !== 'string') {
          this.report(
            'unmarshalerDecoder',
            `json: cannot unmarshal ${jsonTypeName(v)} into Go value of type string`,
            r.pos,
          );
          return undefined;
        }
        const parsed = goParseTime(type.t === 'microtime' ? RFC3339_MICRO : RFC3339, v);
        if (!parsed.ok) {
          this.report('unmarshalerDecoder', parsed.error, r.pos);
          return undefined;
        }
        return type.t === 'microtime' ? formatMicroTime(parsed.time) : formatTime(parsed.time);
      }
      case 'map': {
        if (c === 0x6e) {
          r.value();
          return undefined;
        }
        if (c !== 0x7b) {
          this.report('ReadMapCB', `expect { or n, but found ${String.fromCharCode(c ?? 0)}`, start + 1);
          r.value();
          return undefined;
        }
        r.pos++;
        const out: JsonObject = {};
        if (r.peek() === 0x7d) {
          r.pos++;
          return out;
        }
        while (true) {
          const key = r.string();
          r.peek();
          r.pos++;
          const v = this.value({ t: 'string' });
          if (v !== undefined) out[key] = v;
          else out[key] = '';
          const next = r.peek();
          r.pos++;
          if (next === 0x7d) return out;
        }
      }
      case 'list': {
        if (c === 0x6e) {
          r.value();
          return undefined;
        }
        if (c !== 0x5b) {
          this.report('decode slice', `expect [ or n, but found ${String.fromCharCode(c ?? 0)}`, start + 1);
          r.value();
          return undefined;
        }
        r.pos++;
        const out: Json[] = [];
        if (r.peek() === 0x5d) {
          r.pos++;
        } else {
          while (true) {
            const v = this.value(type.elem);
            out.push(v === undefined ? zeroOf(type.elem) : v);
            const next = r.peek();
            r.pos++;
            if (next === 0x5d) break;
          }
        }
        if (this.error !== undefined) this.error = `${type.goType}: ${this.error}`;
        return out;
      }
      case 'struct':
        return this.struct(type.s);
    }
  }

  struct(s: StructSchema): JsonObject | undefined {
    const r = this.r;
    const c = r.peek();
    const start = r.pos;
    if (c === 0x6e) {
      r.value();
      return undefined;
    }
    if (c !== 0x7b) {
      this.report('readObjectStart', `expect { or n, but found ${String.fromCharCode(c ?? 0)}`, start + 1);
      r.value();
      return undefined;
    }
    r.pos++;
    const got = new Map<string, Json | undefined>();
    if (r.peek() === 0x7d) {
      r.pos++;
    } else {
      while (true) {
        const key = r.string();
        r.peek();
        r.pos++;
        const field = s.fields.find((fs) => fs.json === key);
        if (field === undefined) {
          r.value();
        } else {
          got.set(key, this.value(field.type));
          // json-iterator's structFieldDecoder: once an error exists, every decoded field adds its name.
          if (this.error !== undefined) {
            this.error = `${field.go}: ${this.error}`;
            if (field.embeddedIn !== undefined) this.error = `${field.embeddedIn}: ${this.error}`;
          }
          if (this.halted) break;
        }
        const next = r.peek();
        r.pos++;
        if (next === 0x7d) break;
      }
    }
    if (this.error !== undefined) this.error = `${s.goType}.${this.error}`;
    return assemble(s, got);
  }
}

const STRUCT_LIKE = new Set(['struct', 'time', 'microtime']);

/** Go's zero value for a type, as printed. */
function zeroOf(type: TypeSchema): Json {
  switch (type.t) {
    case 'string':
      return '';
    case 'int32':
    case 'int64':
      return 0;
    case 'bool':
      return false;
    case 'struct':
      return emptyStruct(type.s);
    default:
      return null;
  }
}

const isZero = (type: TypeSchema, v: Json): boolean => {
  switch (type.t) {
    case 'string':
      return v === '';
    case 'int32':
    case 'int64':
      return v === 0;
    case 'bool':
      return v === false;
    case 'map':
      return v !== null && typeof v === 'object' && Object.keys(v).length === 0;
    case 'list':
      return Array.isArray(v) && v.length === 0;
    default:
      return false;
  }
};

/** The struct as Go's encoder prints it: struct order, omitempty, zero values for the rest. */
function assemble(s: StructSchema, got: Map<string, Json | undefined>): JsonObject {
  const out: JsonObject = {};
  for (const fs of s.fields) {
    const v = got.get(fs.json);
    if (v === undefined) {
      if (fs.ptr) continue;
      if (fs.omitempty && !STRUCT_LIKE.has(fs.type.t)) continue;
      out[fs.json] = zeroOf(fs.type);
      continue;
    }
    if (!fs.ptr && fs.omitempty && isZero(fs.type, v)) continue;
    out[fs.json] = v;
  }
  return out;
}

/** A struct with no fields set, as printed (e.g. `"spec": {}`). */
export function emptyStruct(s: StructSchema): JsonObject {
  return assemble(s, new Map());
}

/**
 * Re-normalizes an already-parsed object (e.g. the result of a patch) through the schema, exactly as if it
 * had been sent as a body.
 */
export function normalize(value: Json, schema: StructSchema): { value: JsonObject; error: string | undefined } {
  return typedDecode(Buffer.from(JSON.stringify(value)), schema);
}
