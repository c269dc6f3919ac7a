// The codec's one-pass emitter (emitFast) also serves messages with repeated scalar
// fields (pagemap_entry's criu-dev compressed_size), handing an entry that carries one
// to the generic emitter. Both must give the same text as ever: keys in field order,
// every field, compact and --pretty.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { encodeImage, decodeToJSON } from '../lib/images.ts';

const entries: any[] = [{ pages_id: 1 }];
for (let i = 0; i < 60; i++) {
  if (i % 3 === 0) entries.push({ vaddr: 4096 * i, compat_nr_pages: 0, flags: 12, nr_pages: 1, compressed_size: [100, 200], total_compressed_size: 300 });
  else if (i % 3 === 1) entries.push({ vaddr: 4096 * i, compat_nr_pages: 1, in_parent: true });
  else entries.push({ vaddr: 4096 * i, compat_nr_pages: 0, flags: 4, nr_pages: 2, region_pages: 3 });
}
const img = encodeImage({ magic: 'PAGEMAP', entries });

test('pagemap entries with and without repeated fields decode whole, keys in field order', () => {
  const j = JSON.parse(decodeToJSON(img));
  assert.is(j.entries.length, entries.length);
  assert.equal(j.entries, entries);
  for (let i = 1; i < entries.length; i++) assert.equal(Object.keys(j.entries[i]), Object.keys(entries[i]), `entry ${i}`);
  const p = JSON.parse(decodeToJSON(img, { pretty: true }));
  assert.equal(p.entries[1].compressed_size, [100, 200]);
  assert.is(p.entries[1].flags, 'PE_PRESENT | PE_PAYLOAD_ALIGNED');
  assert.is(p.entries[2].in_parent, true);
  assert.is(p.entries[3].region_pages, 3);
  // re-encoding the decoded text gives the same bytes
  assert.ok(Buffer.from(encodeImage(j)).equals(Buffer.from(img)));
});

test.run();
