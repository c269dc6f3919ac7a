// Image API used by every other part of tscr (dump, restore, offline tools).
// OWNER: codec (issue 2). The shapes below are the contract; the codec helper
// implements them on top of the Wasm core.
//
// An image in memory has exactly the shape of crit's JSON:
//   { magic: 'PSTREE', entries: [ { pid: 1, ppid: 0, ... }, ... ] }
// - enums are their names ('X86_64'), flags fields are 'A | B' strings,
//   hex fields are '0x..' strings, bytes are base64 strings, ip addresses are
//   strings, exactly as crit prints them.
// - 64-bit integers that do not fit a double exactly are BigInt in memory and
//   exact digits in JSON text (numbers otherwise).
// - Extra payloads that follow an entry (pipe data, socket queues, TCP queues,
//   ghost file contents) are in `entry.extra` as crit has them.
// - The first pagemap entry is the pagemap head ({pages_id}), as in crit.

export interface Image {
  magic: string;
  entries: any[];
}

