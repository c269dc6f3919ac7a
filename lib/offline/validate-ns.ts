// validate: namespaces. Every process's ids image names its namespaces; the
// inventory's root_ids names the root task's. A process in a namespace of its own
// (created inside the dumped tree) can only be restored from that namespace's
// images (CRIU writes them with --namespaces); a namespace image that no process
// uses is a leftover or a mix-up of checkpoints.
import type { Checkpoint, Proc } from './checkpoint.ts';
import type { Severity } from './validate.ts';

type Add = (severity: Severity, code: string, file: string, offset: number, message: string, pid?: number) => void;

/** The namespace kinds: ids field, plain-words name, the image files that describe one (by id). */
const NS: { field: string; name: string; files: RegExp; needs: (id: number) => string[] }[] = [
  { field: 'net_ns_id', name: 'network', files: /^netns-(\d+)\.img$/, needs: (id) => [`netns-${id}.img`] },
  { field: 'uts_ns_id', name: 'UTS', files: /^utsns-(\d+)\.img$/, needs: (id) => [`utsns-${id}.img`] },
  { field: 'ipc_ns_id', name: 'IPC', files: /^ipcns-(?:var|shm|msg|sem)-(\d+)\.img$/, needs: (id) => [`ipcns-var-${id}.img`] },
  { field: 'mnt_ns_id', name: 'mount', files: /^mountpoints-(\d+)\.img$/, needs: (id) => [`mountpoints-${id}.img`] },
  { field: 'user_ns_id', name: 'user', files: /^userns-(\d+)\.img$/, needs: (id) => [`userns-${id}.img`] },
  { field: 'time_ns_id', name: 'time', files: /^timens-(\d+)\.img$/, needs: () => [] },
  { field: 'pid_ns_id', name: 'pid', files: /^$/, needs: () => [] },
  { field: 'cgroup_ns_id', name: 'cgroup', files: /^$/, needs: () => [] },
];

export function checkNamespaces(cp: Checkpoint, procs: Proc[], add: Add, at: (file: string, i: number) => number): void {
  const inv = cp.has('inventory.img') ? cp.entries('inventory.img')[0] : null;
  const root = inv?.root_ids ?? null;
  const used = new Map<string, Set<number>>(NS.map((n) => [n.field, new Set<number>()]));
  if (root) for (const n of NS) if (root[n.field] !== undefined) used.get(n.field)!.add(Number(root[n.field]));
  const rootPid = procs.find((p) => !p.ppid)?.pid ?? procs[0]?.pid;
  for (const p of procs) {
    const f = `ids-${p.pid}.img`;
    if (!cp.has(f)) continue; // reported by the tree check
    let ids: any;
    try { ids = cp.entries(f)[0]; } catch { continue; } // reported by the frame check
    if (!ids) continue;
    for (const n of NS) {
      if (ids[n.field] === undefined) continue;
      const id = Number(ids[n.field]);
      used.get(n.field)!.add(id);
      if (!root || root[n.field] === undefined) continue;
      const rid = Number(root[n.field]);
      if (p.pid === rootPid && id !== rid) {
        add('error', 'ns.root-mismatch', 'inventory.img', at('inventory.img', 0),
          `root_ids names ${n.name} namespace ${rid}, but the root process ${p.pid} is in ${n.name} namespace ${id} (${f})`, p.pid);
        continue;
      }
      if (id === rid) continue;
      // a namespace of its own, made inside the tree: its images must be here
      for (const need of n.needs(id)) {
        if (!cp.has(need)) {
          add('error', 'ns.missing', f, at(f, 0),
            `pid ${p.pid} is in a ${n.name} namespace of its own (id ${id}), but ${need} is missing: it cannot be rebuilt (dump with the namespaces included)`, p.pid);
        }
      }
    }
  }
  // namespace images nobody uses (timens-0.img is CRIU's: the time offsets of the dump, always written)
  for (const name of cp.names) {
    for (const n of NS) {
      const m = n.files.exec(name);
      if (!m) continue;
      const id = Number(m[1]);
      if (n.field === 'time_ns_id' && id === 0) continue;
      if (!used.get(n.field)!.has(id)) {
        add('warning', 'ns.unreferenced', name, 0, `${name} describes ${n.name} namespace ${id}, which no process of this checkpoint is in`);
      }
    }
  }
}
