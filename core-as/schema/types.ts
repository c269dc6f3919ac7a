// Types of tscr's one schema table (core-as/schema). Plain TS data: the host
// serializes it into a compact descriptor for the Wasm codec (descriptor.ts).

/** Display hints, exactly the ones crit applies with --pretty (CRIU's opts.proto). */
export interface Hints {
  hex?: boolean;      // "0x.." (and everything inside a hex message field)
  ipadd?: boolean;    // repeated uint32 in network order -> "1.2.3.4" / IPv6
  flags?: string;     // name of a flag table in FLAG_MAPS ('A | B | 0x..')
  dev?: boolean;      // "major:minor" (kernel format, 20 minor bits)
  odev?: boolean;     // ... in old (glibc makedev) format
  dict?: string;      // value map in DICT_MAPS[dict][fieldName]
  conv?: string;      // bytes conversion: 'unix_name' = quoted-printable
  packed?: boolean;
}

/** [field number, name, type, label, hints]; type is a scalar, 'msg:NAME' or 'enum:NAME'. */
export type FieldDef = [number, string, string, 'req' | 'opt' | 'rep', Hints?];

/**
 * How an image kind's file continues after its magic:
 * - entries:   length-prefixed entries of one message
 * - pagemap:   one pagemap_head, then pagemap_entry entries
 * - ghost:     ghost_file_entry, then either raw contents to EOF or ghost_chunk_entry + data
 * - raw:       no magic, no entries (pages, tarballs, netlink dumps): never decoded
 * Extra payloads after each entry, sized by the entry's fields (crit's "extra"):
 * - bytes:<field>          base64 of <field> bytes
 * - tcp                    {inq, outq}: inq_len then outq_len bytes
 * - bpf                    keys_bytes + values_bytes
 * - sem                    nsems u16 values, padded to 8 bytes (a list of numbers)
 * - shm                    size bytes, padded to 4
 * - msg                    qnum x (ipc_msg entry + msize data padded to 8)
 */
export interface KindDef {
  name: string;            // as crit prints it in "magic"
  magic: number;           // 0 for raw files
  prefix: 'common' | 'service' | 'none';
  msg?: string;            // entry message
  layout?: 'entries' | 'pagemap' | 'ghost' | 'raw';
  extra?: string;
  files: string[];         // file name patterns: %u decimal, %x hex, %s word
}
