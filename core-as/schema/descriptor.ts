// Serializes the schema table into the compact descriptor the Wasm codec reads
// once (codec_init). Layout: u32 words, strings as (u32 length, bytes padded to 4).
//   'TSCD' version
//   nMaps   { kind(0 enum,1 dict,2 flags) n { i32 value, str name }* }*
//   nMsgs   { str name, nFields { num type label hints sub flags dict str name }* }*
//   nKinds  { str name, magic prefix layout msg msg2 extra ef1 ef2 }*
import { MESSAGES, ENUMS } from './messages.ts';
import { KINDS, FLAG_MAPS, DICT_MAPS } from './kinds.ts';
import type { KindDef } from './types.ts';

const TYPE_CODES: Record<string, number> = {
  double: 1, float: 2, int64: 3, uint64: 4, int32: 5, fixed64: 6, fixed32: 7, bool: 8, string: 9,
  bytes: 12, uint32: 13, sfixed32: 15, sfixed64: 16, sint32: 17, sint64: 18,
};
const LABELS = { opt: 0, req: 1, rep: 2 } as const;
const H = { hex: 1, ipadd: 2, dev: 4, odev: 8, unix: 16, packed: 32 };
const LAYOUTS = { entries: 0, pagemap: 1, ghost: 2, raw: 3 } as const;
const PREFIX = { none: 0, common: 1, service: 2 } as const;

export interface Descriptor {
  bytes: Uint8Array;
  kindIndex: Map<string, number>;   // crit name -> kind index
  msgIndex: Map<string, number>;
}

let cached: Descriptor | null = null;

export function buildDescriptor(): Descriptor {
  if (cached) return cached;
  const words: number[] = [];
  const enc = new TextEncoder();
  const str = (s: string) => {
    const b = enc.encode(s);
    words.push(b.length);
    for (let i = 0; i < b.length; i += 4) words.push((b[i] | ((b[i + 1] ?? 0) << 8) | ((b[i + 2] ?? 0) << 16) | ((b[i + 3] ?? 0) << 24)) >>> 0);
  };
  words.push(0x44435354, 1);
  // value maps: enums, then dict maps, then flag tables
  const mapIndex = new Map<string, number>();
  const mapList: [string, number, [string, number][]][] = [];
  for (const [name, vals] of Object.entries(ENUMS)) mapList.push(['enum:' + name, 0, vals]);
  for (const [dict, byField] of Object.entries(DICT_MAPS)) for (const [field, vals] of Object.entries(byField)) mapList.push([`dict:${dict}.${field}`, 1, vals]);
  for (const [name, vals] of Object.entries(FLAG_MAPS)) mapList.push(['flags:' + name, 2, vals]);
  words.push(mapList.length);
  mapList.forEach(([key, kind, vals], i) => {
    mapIndex.set(key, i);
    words.push(kind, vals.length);
    for (const [n, v] of vals) { words.push(v >>> 0); str(n); }
  });
  const names = Object.keys(MESSAGES);
  const msgIndex = new Map(names.map((n, i) => [n, i]));
  words.push(names.length);
  for (const name of names) {
    str(name);
    const fields = MESSAGES[name];
    words.push(fields.length);
    for (const [num, fname, type, label, hints = {}] of fields) {
      let t = TYPE_CODES[type];
      let sub = -1;
      if (type.startsWith('msg:')) { t = 11; sub = msgIndex.get(type.slice(4))!; }
      else if (type.startsWith('enum:')) { t = 14; sub = mapIndex.get('enum:' + type.slice(5))!; }
      if (t === undefined || sub === undefined) throw new Error(`schema: bad type ${type} in ${name}.${fname}`);
      let h = 0;
      if (hints.hex) h |= H.hex;
      if (hints.ipadd) h |= H.ipadd;
      if (hints.dev) h |= H.dev;
      if (hints.odev) h |= H.odev;
      if (hints.conv === 'unix_name') h |= H.unix;
      if (hints.packed) h |= H.packed;
      // a flags name crit has no table for prints as hex, like crit
      let flags = -1;
      if (hints.flags) { flags = mapIndex.get('flags:' + hints.flags) ?? -1; if (flags < 0) h |= H.hex; }
      const dict = hints.dict ? (mapIndex.get(`dict:${hints.dict}.${fname}`) ?? -1) : -1;
      words.push(num, t, LABELS[label], h, sub >>> 0, flags >>> 0, dict >>> 0);
      str(fname);
    }
  }
  const fieldNum = (msg: string, f: string) => {
    const d = MESSAGES[msg]?.find((x) => x[1] === f);
    if (!d) throw new Error(`schema: no field ${msg}.${f}`);
    return d[0];
  };
  const kindIndex = new Map<string, number>();
  words.push(KINDS.length);
  KINDS.forEach((k: KindDef, i) => {
    kindIndex.set(k.name, i);
    str(k.name);
    const layout = LAYOUTS[k.layout ?? 'entries'];
    let msg = k.msg ? msgIndex.get(k.msg)! : -1;
    let msg2 = -1, extra = 0, ef1 = 0, ef2 = 0;
    if (layout === 1) { msg = msgIndex.get('pagemap_head')!; msg2 = msgIndex.get(k.msg!)!; }
    if (layout === 2) { msg2 = msgIndex.get('ghost_chunk_entry')!; ef1 = fieldNum(k.msg!, 'chunks'); ef2 = fieldNum('ghost_chunk_entry', 'len'); }
    const x = k.extra ?? '';
    if (x.startsWith('bytes:')) { extra = 1; ef1 = fieldNum(k.msg!, x.slice(6)); }
    else if (x === 'tcp') { extra = 2; ef1 = fieldNum(k.msg!, 'inq_len'); ef2 = fieldNum(k.msg!, 'outq_len'); }
    else if (x === 'bpf') { extra = 3; ef1 = fieldNum(k.msg!, 'keys_bytes'); ef2 = fieldNum(k.msg!, 'values_bytes'); }
    else if (x === 'sem') { extra = 4; ef1 = fieldNum(k.msg!, 'nsems'); }
    else if (x === 'shm') { extra = 5; ef1 = fieldNum(k.msg!, 'size'); }
    else if (x === 'msg') { extra = 6; ef1 = fieldNum(k.msg!, 'qnum'); msg2 = msgIndex.get('ipc_msg')!; }
    words.push(k.magic >>> 0, PREFIX[k.prefix], layout, msg >>> 0, msg2 >>> 0, extra, ef1, ef2);
  });
  const bytes = new Uint8Array(new Uint32Array(words).buffer);
  cached = { bytes, kindIndex, msgIndex };
  return cached;
}
