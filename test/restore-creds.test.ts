// Credentials are restored last and exactly: ids, groups, capability sets.
// Uses CRIU's `loop` checkpoint with its credentials edited (as JSON), and
// reads the restored process's /proc/PID/status.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { copyFileSync, chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tscr, pidExists, killAll, waitGone, sleep } from './helpers/restore.ts';
import { SHARED_IMAGES } from './helpers/shared.ts';

const SHARED = SHARED_IMAGES;

test('uids, gids, groups, capabilities (eff/prm/inh/amb/bnd)', async () => {
  const src = join(SHARED, 'loop');
  if (!existsSync(src)) return;
  const dir = mkdtempSync(join(tmpdir(), 'tscr-rcreds-'));
  for (const f of readdirSync(join(src, 'crit'))) copyFileSync(join(src, 'crit', f), join(dir, f));
  copyFileSync(join(src, 'images', 'pages-1.img'), join(dir, 'pages-1.img'));
  mkdirSync('/tmp/tscr-fixtures/out', { recursive: true });
  copyFileSync(join(src, 'bin'), '/tmp/tscr-fixtures/loop');
  chmodSync('/tmp/tscr-fixtures/loop', 0o755);
  const pid = JSON.parse(readFileSync(join(dir, 'pstree.json'), 'utf8')).entries[0].pid;
  const corePath = join(dir, `core-${pid}.json`);
  const core = JSON.parse(readFileSync(corePath, 'utf8'));
  const DAC_OVERRIDE = 1, KILL = 5, NET_BIND = 10, SYS_BOOT = 22;
  const capBits = (1 << DAC_OVERRIDE) | (1 << KILL) | (1 << NET_BIND);
  Object.assign(core.entries[0].thread_core.creds, {
    uid: 1001, euid: 1002, suid: 1003, fsuid: 1002, gid: 2001, egid: 2002, sgid: 2003, fsgid: 2002, groups: [7, 8],
    cap_eff: [capBits, 0], cap_prm: [capBits, 0], cap_inh: [1 << NET_BIND, 0], cap_amb: [1 << NET_BIND, 0],
    cap_bnd: [core.entries[0].thread_core.creds.cap_bnd[0] & ~(1 << SYS_BOOT), core.entries[0].thread_core.creds.cap_bnd[1]],
  });
  writeFileSync(corePath, JSON.stringify(core));
  try {
    await waitGone([pid], 3000);
    if (pidExists(pid)) { console.log(`  skip: pid ${pid} taken`); return; }
    const r = tscr(['restore', '-D', dir, '-d']);
    assert.is(r.code, 0, r.stderr);
    const st = readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (k: string) => (new RegExp(`^${k}:\\s*(.*)$`, 'm').exec(st)?.[1] ?? '').trim().split(/\s+/).join(' ');
    assert.is(field('Uid'), '1001 1002 1003 1002');
    assert.is(field('Gid'), '2001 2002 2003 2002');
    assert.is(field('Groups'), '7 8');
    assert.is(BigInt('0x' + field('CapEff')), BigInt(capBits));
    assert.is(BigInt('0x' + field('CapPrm')), BigInt(capBits));
    assert.is(BigInt('0x' + field('CapInh')), BigInt(1 << NET_BIND));
    assert.is(BigInt('0x' + field('CapAmb')), BigInt(1 << NET_BIND));
    assert.is((BigInt('0x' + field('CapBnd')) >> BigInt(SYS_BOOT)) & 1n, 0n);
    // and it still runs: its self-check can write its verdict (CAP_DAC_OVERRIDE)
    rmSync('/tmp/tscr-fixtures/out/loop', { force: true });
    process.kill(pid, 'SIGUSR1');
    let v = '';
    for (let i = 0; i < 200 && !v; i++) { await sleep(25); if (existsSync('/tmp/tscr-fixtures/out/loop')) v = readFileSync('/tmp/tscr-fixtures/out/loop', 'utf8'); }
    assert.is(v, 'PASS');
  } finally { killAll([pid]); rmSync(dir, { recursive: true, force: true }); }
});

test.run();
