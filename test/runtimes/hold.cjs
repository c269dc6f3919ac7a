// Held by tscr's runtime test: data, timers and a unix socket connection in a
// node process. node hold.cjs OUTFILE (protocol of fixtures/fx.h).
const fs = require('fs');
const net = require('net');
const out = process.argv[2];
const data = new Map(Array.from({ length: 20000 }, (_, i) => [i, String(i * i)]));
const big = Buffer.alloc(1 << 20, 7);
let ticks = 0;
setInterval(() => { ticks++; }, 20);
const path = out + '.sock';
try { fs.unlinkSync(path); } catch {}
let got = '';
const server = net.createServer((c) => { c.on('data', (d) => { got += d; }); });
server.listen(path, () => {
  const client = net.connect(path, () => {
    process.on('SIGUSR1', () => {
      const t0 = ticks;
      client.write('after-restore');
      setTimeout(() => {
        let why = null;
        if (data.size !== 20000 || data.get(19999) !== String(19999 * 19999)) why = 'data';
        else if (big.some((x) => x !== 7)) why = 'buffer';
        else if (ticks <= t0) why = `timers stopped (${t0} -> ${ticks})`;
        else if (got !== 'before-dump' + 'after-restore') why = `socket got ${JSON.stringify(got)}`;
        fs.writeFileSync(out, why ? 'FAIL: ' + why : 'PASS');
        process.exit(0);
      }, 300);
    });
    client.write('before-dump');
    setTimeout(() => fs.writeFileSync(out + '.ready', String(process.pid)), 100);
  });
});
