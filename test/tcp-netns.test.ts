// Issue 5: migration between hosts, simulated with network namespaces.
// Host A (namespace, 10.77.x.1 on a veth) runs the server; host C (another
// namespace, a bridge with 10.77.x.2) runs the client. The server's tree is
// dumped inside A and killed, A is destroyed, a fresh host B gets the same
// address (and MAC) on a new veth into C's bridge, and the tree is restored
// inside B. The client in C never notices, and no byte is lost or duplicated.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rawClient, pattern, startServer, readExact, writeAll, setTimeouts } from './helpers/tcp.ts';
import { TSCR_BIN as TSCR, killAll, waitGone, sleep } from './helpers/restore.ts';
import { listLocks } from '../lib/netlock.ts';
import { inNetns } from '../shim/native.ts';
import { addrFromText } from '../lib/kinds/inet.ts';

const ip = (...a: string[]) => execFileSync('ip', a, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
const inNs = (ns: string, ...a: string[]) => ip('netns', 'exec', ns, ...a);
const dbg = (what: string) => { if (process.env.TSCR_TEST_LOG) console.log(what, inNs(NS.c, 'ss', '-tn', 'dst', SRV).split('\n').slice(1).join(' | '), inNs(NS.c, 'nstat', '-az', 'TcpEstabResets').split('\n')[1]); };
const n = process.pid % 100000;
const NS = { a: `tscr-a${n}`, b: `tscr-b${n}`, c: `tscr-c${n}` };
const NET = `10.77.${n % 250}`;
const SRV = `${NET}.1`, CLI = `${NET}.2`;
const MAC = '02:00:0a:4d:00:01';

function host(ns: string, veth: string, plugged = true) {
  ip('netns', 'add', ns);
  ip('link', 'add', veth, 'type', 'veth', 'peer', 'name', veth + 'p');
  ip('link', 'set', veth, 'netns', ns);
  ip('link', 'set', veth + 'p', 'netns', NS.c);
  inNs(NS.c, 'ip', 'link', 'set', veth + 'p', 'master', 'br0', plugged ? 'up' : 'down');
  inNs(ns, 'ip', 'link', 'set', 'lo', 'up');
  inNs(ns, 'ip', 'link', 'set', veth, 'address', MAC);
  inNs(ns, 'ip', 'addr', 'add', `${SRV}/24`, 'dev', veth);
  inNs(ns, 'ip', 'link', 'set', veth, 'up');
}

function teardown() {
  for (const ns of Object.values(NS)) { try { ip('netns', 'del', ns); } catch { /* not there */ } }
}

test('server restored into a fresh namespace with the same address; the client in another namespace stays connected', async () => {
  teardown();
  ip('netns', 'add', NS.c);
  inNs(NS.c, 'ip', 'link', 'set', 'lo', 'up');
  inNs(NS.c, 'ip', 'link', 'add', 'br0', 'type', 'bridge');
  inNs(NS.c, 'ip', 'addr', 'add', `${CLI}/24`, 'dev', 'br0');
  inNs(NS.c, 'ip', 'link', 'set', 'br0', 'up');
  host(NS.a, `tva${n}`);
  const img = mkdtempSync(join(tmpdir(), 'tscr-tcpns-'));
  let srv: Awaited<ReturnType<typeof startServer>> | undefined;
  let client = -1;
  try {
    srv = await startServer([SRV, '0', String(256 << 10)],
      (port) => (client = inNetns(`/run/netns/${NS.c}`, () => rawClient('INET', addrFromText(2, SRV), port, 8192))), NS.a, { setsid: true });
    setTimeouts(client, 20);
    const before = pattern(0, 10000, 13, 5);
    writeAll(client, before);
    assert.ok(readExact(client, 1000).equals(pattern(0, 1000)));

    // tscr runs outside host A: it locks and looks sockets up in the target's namespace
    execFileSync(process.execPath, [TSCR, 'dump', '-t', String(srv.pid), '-D', img, '--tcp-established'], { stdio: ['ignore', 'pipe', 'pipe'] });
    dbg('after dump');
    assert.ok(await waitGone([srv.pid]), 'the tree was killed');
    dbg('after kill');
    // host A goes away with its lock; the client keeps sending into the void
    // (cable first: a namespace being torn down may drop its nft tables before its
    // devices, and answer a last packet with a RST)
    inNs(NS.c, 'ip', 'link', 'del', `tva${n}p`);
    ip('netns', 'del', NS.a);
    const inflight = pattern(10000, 2000, 13, 5);
    writeAll(client, inflight);
    writeFileSync(srv.out + '.expect', String(before.length + inflight.length));
    dbg('A deleted');

    // host B: same address and MAC; its cable is plugged into the bridge once the
    // tree is restored (as a floating address moves to a new host)
    host(NS.b, `tvb${n}`, false);
    execFileSync('ip', ['netns', 'exec', NS.b, process.execPath, TSCR, 'restore', '-D', img, '--tcp-established', '-d'], { stdio: ['ignore', 'pipe', 'pipe'] });
    dbg('restored');
    inNs(NS.c, 'ip', 'link', 'set', `tvb${n}p`, 'up');
    dbg('plugged');
    assert.is(readFileSync(`/proc/${srv.pid}/stat`, 'utf8').length > 0, true);
    const nsOf = (p: number | string) => execFileSync('readlink', [`/proc/${p}/ns/net`]).toString().trim();
    assert.is(nsOf(srv.pid), execFileSync('ip', ['netns', 'exec', NS.b, 'readlink', '/proc/self/ns/net']).toString().trim(), 'the server runs in host B');
    assert.is(listLocks(srv.pid).length, 0, 'no lock left in host B');
    process.kill(srv.pid, 'SIGUSR1');
    assert.ok(readExact(client, srv.sent - 1000).equals(pattern(1000, srv.sent - 1000)), 'server -> client stream intact');
    assert.is(readExact(client, 13).toString(), 'after restore');
    writeAll(client, Buffer.from('ping'));
    const t0 = Date.now();
    while (!existsSync(srv.out) && Date.now() - t0 < 10000) await sleep(25);
    assert.is(readFileSync(srv.out, 'utf8').trim(), 'PASS', 'client -> server bytes intact (checked by the server)');
  } catch (e) {
    if (process.env.TSCR_TEST_LOG) {
      for (const ns of [NS.b, NS.c]) { try { console.log(ns, inNs(ns, 'nstat', '-az', 'TcpOutRsts', 'TcpExtTCPAbortOnData', 'TcpAttemptFails', 'TcpEstabResets', 'TcpExtTCPAbortOnClose')); } catch (x) { console.log(String(x)); } }
    }
    throw e;
  } finally {
    if (srv) { killAll([srv.pid]); srv.kill(); }
    if (client >= 0) { try { closeSync(client); } catch { /* closed */ } }
    teardown();
    rmSync(img, { recursive: true, force: true });
  }
});

test.run();
