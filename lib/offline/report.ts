// tscr report: one self-contained HTML page about a checkpoint (no external
// assets, no scripts needed to read it): the process tree, each process's
// memory map drawn to scale with VMA kinds coloured and dumped pages shaded,
// fds and connections, and the validation findings.
import { lastStartAtOrBelow, Checkpoint, PAGE, num, type Proc, type PmEntry } from './checkpoint.ts';
import { validateCheckpoint, type ValidateResult } from './validate.ts';
import { hex, perms, presentPerVma } from './mem.ts';

const COLORS: Record<string, string> = {
  text: '#4e79a7', file: '#a0cbe8', anon: '#f28e2b', heap: '#e15759', stack: '#59a14f',
  shared: '#b07aa1', vdso: '#9c755f', vvar: '#bab0ac', vsyscall: '#d4a6c8',
};

function esc(s: unknown): string {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]!));
}

function human(n: number): string {
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return `${i ? n.toFixed(1) : n} ${u[i]}`;
}

/** Per-pixel share of dumped pages for one VMA drawn `width` pixels wide. */
function pmByVma(p: Proc): PmEntry[][] {
  const out: PmEntry[][] = p.vmas.map(() => []);
  const vm = p.vmas;
  let v = 0;
  let budget = 20_000_000; // bad input (huge overlapping entries) must not make this quadratic
  for (const e of p.pm) {
    if (e.fileOff < 0) continue;
    const end = e.vaddr + e.nr * PAGE;
    if (v >= vm.length || vm[v].start > e.vaddr) v = lastStartAtOrBelow(vm, e.vaddr); // out of order: jump, never crawl
    while (v < vm.length && vm[v].end <= e.vaddr) v++;
    for (let k = v; k < vm.length && vm[k].start < end && budget-- > 0; k++) out[k].push(e);
  }
  return out;
}

function coverage(p: Proc, vi: number, width: number, ents: PmEntry[]): Float64Array {
  const v = p.vmas[vi];
  const cov = new Float64Array(width);
  const pages = Math.floor((v.end - v.start) / PAGE);
  const perPx = pages / width;
  for (const e of ents) {
    const s = e.vaddr, t = e.vaddr + e.nr * PAGE;
    const a = s > v.start ? s : v.start, b = t < v.end ? t : v.end;
    if (a >= b) continue;
    const p0 = Math.floor((a - v.start) / PAGE), p1 = Math.floor((b - v.start) / PAGE);
    if (perPx <= 1) {
      for (let pg = p0; pg < p1; pg++) cov.fill(1, Math.floor(pg / perPx), Math.min(width, Math.ceil((pg + 1) / perPx)));
      continue;
    }
    for (let pg = p0; pg < p1;) {
      const px = Math.min(width - 1, Math.floor(pg / perPx));
      const pxEnd = Math.min(p1, Math.ceil((px + 1) * perPx));
      const n = Math.max(1, pxEnd - pg);
      cov[px] += n / Math.max(1, perPx);
      pg += n;
    }
  }
  for (let i = 0; i < width; i++) cov[i] = Math.min(1, cov[i]);
  return cov;
}

/** Rows to draw: one per VMA, except that long runs of alike small VMAs fold into one row. */
interface Row { first: number; last: number }
function displayRows(p: Proc): Row[] {
  const rows: Row[] = [];
  const fold = p.vmas.length > 300;
  for (let i = 0; i < p.vmas.length;) {
    let j = i;
    if (fold) {
      const v = p.vmas[i];
      const small = (x: typeof v) => x.end - x.start <= 1 << 20;
      while (j + 1 < p.vmas.length && small(p.vmas[j + 1]) && small(v) && p.vmas[j + 1].kind === v.kind && perms(p.vmas[j + 1]) === perms(v) && p.vmas[j + 1].name === v.name) j++;
      if (j - i + 1 < 8) j = i;
    }
    rows.push({ first: i, last: j });
    i = j + 1;
  }
  return rows;
}

function memMapSvg(p: Proc): string {
  const W = 560, LABEL = 320, ROW = 18;
  const present = presentPerVma(p);
  const sizes = p.vmas.map((v) => v.end - v.start);
  const max = Math.max(PAGE, ...sizes);
  const rows = displayRows(p);
  const H = ROW * rows.length + 24;
  const byVma = pmByVma(p);
  const parts: string[] = [];
  parts.push(`<svg class="memmap" data-pid="${p.pid}" xmlns="http://www.w3.org/2000/svg" width="${LABEL + W + 130}" height="${H}" role="img" aria-label="memory map of pid ${p.pid}">`);
  parts.push(`<text x="0" y="12" class="axis">VMA (address, perms, name)</text><text x="${LABEL}" y="12" class="axis">size to scale (largest = ${esc(human(max))}); dark = pages in the dump</text>`);
  rows.forEach((r, ri) => {
    const y = 20 + ri * ROW;
    const v = p.vmas[r.first];
    const col = COLORS[v.kind] ?? '#999';
    if (r.last > r.first) {
      // a folded run of alike small VMAs: drawn as their summed size, shaded by their dumped share
      const n = r.last - r.first + 1;
      let size = 0, pres = 0;
      for (let k = r.first; k <= r.last; k++) { size += sizes[k]; pres += present[k]; }
      const w = Math.max(2, Math.round((size / max) * W));
      const share = size ? (pres * PAGE) / size : 0;
      const end = p.vmas[r.last].end;
      parts.push(`<g class="vma folded" data-kind="${v.kind}" data-start="${hex(v.start)}" data-count="${n}">`);
      parts.push(`<title>${esc(`${n} VMAs ${perms(v)} ${v.kind} ${v.name} from ${hex(v.start)} to ${hex(end)}\n${human(size)} in total, ${pres} pages dumped`)}</title>`);
      parts.push(`<text x="0" y="${y + 12}" class="lbl">${esc(hex(v.start))} ${perms(v)} ${n} × ${esc((v.name || v.kind).slice(-20))}</text>`);
      parts.push(`<rect x="${LABEL}" y="${y}" width="${w}" height="${ROW - 4}" fill="${col}" fill-opacity="0.35" stroke="${col}" stroke-dasharray="3 2"/>`);
      if (pres) parts.push(`<rect class="present" x="${LABEL}" y="${y}" width="${Math.max(1, Math.round(w * share))}" height="${ROW - 4}" fill="${col}" fill-opacity="0.85"/>`);
      parts.push(`<text x="${LABEL + w + 4}" y="${y + 12}" class="sz">${esc(human(size))} in ${n} VMAs${pres ? `, ${pres} pg` : ''}</text>`);
      parts.push('</g>');
      return;
    }
    const i = r.first;
    const w = Math.max(2, Math.round((sizes[i] / max) * W));
    parts.push(`<g class="vma" data-kind="${v.kind}" data-start="${hex(v.start)}">`);
    parts.push(`<title>${esc(`${hex(v.start)}-${hex(v.end)} ${perms(v)} ${v.kind} ${v.name}\n${human(sizes[i])}, ${present[i]} of ${sizes[i] / PAGE} pages dumped`)}</title>`);
    parts.push(`<text x="0" y="${y + 12}" class="lbl">${esc(hex(v.start))} ${perms(v)} ${esc((v.name || v.kind).slice(-28))}</text>`);
    parts.push(`<rect x="${LABEL}" y="${y}" width="${w}" height="${ROW - 4}" fill="${col}" fill-opacity="0.35" stroke="${col}"/>`);
    // dumped pages, shaded by the share of each pixel that is present
    const cov = coverage(p, i, w, byVma[i]);
    for (let x = 0; x < w;) {
      const lvl = Math.round(cov[x] * 4);
      let x2 = x + 1;
      while (x2 < w && Math.round(cov[x2] * 4) === lvl) x2++;
      if (lvl > 0) parts.push(`<rect class="present" x="${LABEL + x}" y="${y}" width="${x2 - x}" height="${ROW - 4}" fill="${col}" fill-opacity="${(0.4 + 0.15 * lvl).toFixed(2)}"/>`);
      x = x2;
    }
    parts.push(`<text x="${LABEL + w + 4}" y="${y + 12}" class="sz">${esc(human(sizes[i]))}${present[i] ? `, ${present[i]} pg` : ''}</text>`);
    parts.push('</g>');
  });
  parts.push('</svg>');
  return parts.join('');
}

function treeHtml(procs: Proc[]): string {
  const kids = new Map<number, Proc[]>();
  const pids = new Set(procs.map((p) => p.pid));
  for (const p of procs) {
    const parent = pids.has(p.ppid) ? p.ppid : 0;
    if (!kids.has(parent)) kids.set(parent, []);
    kids.get(parent)!.push(p);
  }
  const seen = new Set<number>();
  const node = (p: Proc): string => {
    if (seen.has(p.pid)) return '';
    seen.add(p.pid);
    const ch = (kids.get(p.pid) ?? []).map(node).join('');
    return `<li><a href="#proc-${p.pid}" class="proc" data-pid="${p.pid}"><b>${p.pid}</b> ${esc(p.comm)}</a> <span class="muted">${p.threads.length} thread${p.threads.length === 1 ? '' : 's'}, ${esc(p.state || '?')}, ${p.vmas.length} VMAs, ${p.fds.length} fds</span>${ch ? `<ul>${ch}</ul>` : ''}</li>`;
  };
  return `<ul class="tree" id="tree">${(kids.get(0) ?? []).map(node).join('')}</ul>`;
}

function fdTable(cp: Checkpoint, p: Proc, files: Map<number, any>): string {
  if (!p.fds.length) return '<p class="muted">no open files</p>';
  const queued = cp.queues();
  const rows = p.fds.map((f) => {
    const e = files.get(f.id);
    let what = '';
    if (e?.reg) what = `${e.reg.name ?? ''}${e.reg.pos ? ` (offset ${num(e.reg.pos)})` : ''}`;
    else if (e?.pipe) what = `pipe:[${num(e.pipe.pipe_id)}]${queued.get(f.id) ? `, ${queued.get(f.id)!.in} bytes buffered` : ''}`;
    else if (e?.usk) what = `unix ${e.usk.type ?? ''} ${e.usk.state ?? ''} ino ${num(e.usk.ino)} peer ${num(e.usk.peer)}`;
    else if (e?.isk) what = `${e.isk.proto} ${(e.isk.src_addr ?? []).join(',')}:${num(e.isk.src_port)} → ${(e.isk.dst_addr ?? []).join(',')}:${num(e.isk.dst_port)} ${e.isk.state}`;
    else if (e) { const k = Object.keys(e).find((x) => x !== 'type' && x !== 'id'); what = k && e[k]?.name ? e[k].name : ''; }
    return `<tr><td>${f.fd}</td><td>${esc(f.type)}</td><td>${esc(what)}</td></tr>`;
  }).join('');
  return `<table class="fds"><tr><th>fd</th><th>kind</th><th>what</th></tr>${rows}</table>`;
}

function connections(cp: Checkpoint): string {
  const rows: string[] = [];
  const q = cp.queues();
  const qd = (id: unknown) => { const x = q.get(num(id)); return x ? `${x.in} in${x.out !== undefined ? ` / ${x.out} out` : ''}` : ''; };
  for (const e of cp.entries('files.img')) {
    if (e.isk) rows.push(`<tr><td>${esc(e.isk.family)} ${esc(e.isk.proto)}</td><td>${esc((e.isk.src_addr ?? []).join(','))}:${num(e.isk.src_port)}</td><td>${esc((e.isk.dst_addr ?? []).join(','))}:${num(e.isk.dst_port)}</td><td>${esc(e.isk.state)}</td><td>${esc(qd(e.id))}</td><td>${num(e.isk.ino)}</td></tr>`);
    else if (e.usk) rows.push(`<tr><td>UNIX ${esc(e.usk.type)}</td><td>${esc(e.usk.name ?? '')} ino ${num(e.usk.ino)}</td><td>peer ${num(e.usk.peer)}</td><td>${esc(e.usk.state)}</td><td>${esc(qd(e.id))}</td><td>${num(e.usk.ino)}</td></tr>`);
  }
  if (!rows.length) return '<p class="muted">no sockets</p>';
  return `<table class="conns"><tr><th>kind</th><th>local</th><th>remote</th><th>state</th><th>queued bytes</th><th>ino</th></tr>${rows.join('')}</table>`;
}

function findingsHtml(v: ValidateResult): string {
  if (!v.findings.length) return '<p class="ok" id="valid">clean: no findings</p>';
  const rows = v.findings.map((f) => `<tr class="${f.severity}"><td>${f.severity.toUpperCase()}</td><td>${esc(f.file)}:${f.offset}</td><td>${esc(f.message)}</td></tr>`).join('');
  return `<p class="${v.clean ? 'ok' : 'bad'}" id="valid">${v.errors} error(s), ${v.warnings} warning(s)</p><table class="findings"><tr><th>severity</th><th>where</th><th>finding</th></tr>${rows}</table>`;
}

const CSS = `
body{font:14px/1.4 system-ui,-apple-system,Segoe UI,sans-serif;margin:24px;color:#222;background:#fafafa}
h1{font-size:22px;margin:0 0 4px} h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #ddd}
h3{font-size:15px;margin:18px 0 6px} .muted{color:#777} .ok{color:#2a7a2a;font-weight:600} .bad{color:#b22;font-weight:600}
ul.tree{list-style:none;padding-left:0} ul.tree ul{list-style:none;padding-left:22px;border-left:1px dashed #bbb;margin-left:6px}
ul.tree li{margin:3px 0} a.proc{text-decoration:none;color:#134;background:#e6eef7;padding:1px 6px;border-radius:4px}
table{border-collapse:collapse;margin:6px 0;font-size:13px} td,th{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f0f0f0} tr.error td{background:#fde8e8} tr.warning td{background:#fff6dd}
svg.memmap{background:#fff;border:1px solid #ddd;margin:4px 0} svg text{font:11px ui-monospace,Menlo,monospace;fill:#333} svg text.axis{fill:#777}
.legend span{display:inline-block;margin-right:12px} .legend i{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:-2px}
.summary td{border:none;padding:1px 12px 1px 0}
`;

export function renderReport(cp: Checkpoint, v?: ValidateResult): string {
  const val = v ?? validateCheckpoint(cp);
  const procs = cp.procs();
  const files = cp.fileById();
  const inv = cp.entries('inventory.img')[0] ?? {};
  const totalPages = procs.reduce((a, p) => a + p.pm.filter((e) => e.fileOff >= 0).reduce((s, e) => s + e.nr, 0), 0);
  const legend = Object.entries(COLORS).map(([k, c]) => `<span><i style="background:${c}"></i>${k}</span>`).join('');
  const sections = procs.map((p) => `
<section class="process" id="proc-${p.pid}">
<h3>pid ${p.pid} · ${esc(p.comm)} <span class="muted">(parent ${p.ppid || '—'}, threads ${p.threads.map(String).join(', ')})</span></h3>
${memMapSvg(p)}
<h4>open files</h4>
${fdTable(cp, p, files)}
</section>`).join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>tscr report: ${esc(cp.dir)}</title><style>${CSS}</style></head>
<body>
<h1>Checkpoint report</h1>
<table class="summary">
<tr><td class="muted">images</td><td>${esc(cp.dir)}</td></tr>
<tr><td class="muted">processes</td><td>${procs.length} (${procs.reduce((a, p) => a + p.threads.length, 0)} threads)</td></tr>
<tr><td class="muted">dumped memory</td><td>${human(totalPages * PAGE)} in ${totalPages} pages</td></tr>
<tr><td class="muted">image files</td><td>${cp.names.length}</td></tr>
<tr><td class="muted">dumped by</td><td>${esc(inv.dump_criu_run_id ? `CRIU run ${inv.dump_criu_run_id}` : 'tscr / CRIU')} (image version ${esc(inv.img_version ?? '?')})</td></tr>
<tr><td class="muted">validation</td><td class="${val.clean ? 'ok' : 'bad'}">${val.clean ? 'clean' : `${val.errors} error(s), ${val.warnings} warning(s)`}</td></tr>
</table>
<h2>Process tree</h2>
${treeHtml(procs)}
<h2>Connections</h2>
${connections(cp)}
<h2>Memory maps</h2>
<p class="legend">${legend}</p>
${sections}
<h2>Validation findings</h2>
${findingsHtml(val)}
<p class="muted">Generated by tscr report. Self-contained: no scripts, no external assets.</p>
</body></html>
`;
}
