// unix socket names use crit's quoted-printable conversion (Python's quopri/binascii.b2a_qp);
// compare with Python itself when it is installed.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { decodeImage, encodeImage } from '../lib/images.ts';

const hasPython = spawnSync('python3', ['-c', 'import quopri'], { stdio: 'ignore' }).status === 0;
const fown = { uid: 0, euid: 0, signum: 0, pid_type: 0, pid: 0 };
const opts = { so_sndbuf: 0, so_rcvbuf: 0, so_snd_tmo_sec: 0, so_snd_tmo_usec: 0, so_rcv_tmo_sec: 0, so_rcv_tmo_usec: 0 };
const entry = (name: string) => ({ id: 1, ino: 1, type: 'STREAM', state: 'ESTABLISHED', flags: '0x0', uflags: '0x0', backlog: 0, peer: 0, fown, opts, name });

test('unix socket names print like Python quopri (and round-trip)', () => {
  let seed = 11;
  const rnd = (n: number) => { seed = (seed * 1103515245 + 12345) >>> 0; return (seed >>> 8) % n; };
  const samples = [Buffer.from('\0abstract'), Buffer.from('/tmp/s'), Buffer.from('.'), Buffer.from('a \t\n.\n'), Buffer.from('y'.repeat(180))];
  for (let i = 0; i < 200; i++) { const b = Buffer.alloc(rnd(100)); for (let j = 0; j < b.length; j++) b[j] = [rnd(256), 32, 10, 46, 61, 9, 97, 0][rnd(8)]; samples.push(b); }
  if (!hasPython) { console.log('  (python3 not installed: round-trip only)'); }
  const expected: string[] | null = hasPython ? JSON.parse(spawnSync('python3', ['-c',
    'import sys,json,quopri,base64\nprint(json.dumps([quopri.encodestring(base64.b64decode(x)).decode() for x in json.load(sys.stdin)]))'],
  { input: JSON.stringify(samples.map((b) => b.toString('base64'))) }).stdout.toString()) : null;
  samples.forEach((raw, i) => {
    if (expected) {
      const bytes = encodeImage({ magic: 'UNIXSK', entries: [entry(expected[i])] });
      const img = decodeImage(bytes);
      assert.is(img.entries[0].name, expected[i], `sample ${i}`);
      assert.ok(Buffer.from(encodeImage(img)).equals(Buffer.from(bytes)));
    }
  });
});

test('long binary unix names (soft line breaks) round-trip', () => {
  for (const n of [1, 75, 76, 77, 500, 5000]) {
    const raw = Buffer.alloc(n, 0xff);
    // encode through the quoted-printable form crit would print: "=FF" x n with soft breaks
    let qp = '', col = 0;
    for (let i = 0; i < n; i++) { if (col + 3 > 75) { qp += '=\n'; col = 0; } qp += '=FF'; col += 3; }
    const bytes = encodeImage({ magic: 'UNIXSK', entries: [entry(qp)] });
    const img = decodeImage(bytes);
    assert.ok(Buffer.from(encodeImage(img)).equals(Buffer.from(bytes)), `n=${n}`);
    assert.ok(Buffer.from(bytes).includes(raw), `n=${n}: raw name bytes`);
  }
});

test.run();
