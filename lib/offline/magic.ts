// The image kinds tscr's offline tools know: magic number -> crit's name, and
// the rule for raw payloads that follow entries (the framing walker needs it).
// Format facts from CRIU's criu/include/magic.h and crit's handlers.

export const IMG_COMMON_MAGIC = 0x54564319;
export const IMG_SERVICE_MAGIC = 0x55105940;

/** Extra-payload rules understood by val_frames (core-as/assembly/validate.ts). */
export const X_NONE = 0, X_FIELD = 1, X_FIELD2 = 2, X_GHOST = 3, X_RAW = 4;

export interface KindInfo {
  name: string;
  /** [mode, fieldA, fieldB] for val_frames */
  extra: [number, number, number];
}

const K = (name: string, extra: [number, number, number] = [X_NONE, 0, 0]): KindInfo => ({ name, extra });

export const KINDS: Record<number, KindInfo> = {
  0x58313116: K('INVENTORY'),
  0x50273030: K('PSTREE'),
  0x56213732: K('FDINFO'),
  0x56084025: K('PAGEMAP'),
  0x55053847: K('CORE'),
  0x54432030: K('IDS'),
  0x54123737: K('VMAS'),
  0x56513555: K('PIPES'),
  0x56453709: K('PIPES_DATA', [X_FIELD, 2, 0]),
  0x58364939: K('FIFO'),
  0x59333054: K('FIFO_DATA', [X_FIELD, 2, 0]),
  0x55344201: K('SIGACT'),
  0x54373943: K('UNIXSK'),
  0x56443851: K('INETSK'),
  0x60454618: K('PACKETSK'),
  0x57464056: K('ITIMERS'),
  0x52603957: K('POSIX_TIMERS'),
  0x56264026: K('SK_QUEUES', [X_FIELD, 2, 0]),
  0x54473203: K('UTSNS'),
  0x54023547: K('CREDS'),
  0x53115007: K('IPC_VAR'),
  0x46283044: K('IPCNS_SHM'),
  0x55453737: K('IPCNS_MSG'),
  0x59573019: K('IPCNS_SEM'),
  0x50363636: K('REG_FILES'),
  0x59255641: K('EXT_FILES'),
  0x51403912: K('FS'),
  0x57492820: K('MM'),
  0x59133954: K('REMAP_FPATH'),
  0x52583605: K('GHOST_FILE', [X_GHOST, 0, 0]),
  0x51465506: K('TCP_STREAM', [X_FIELD2, 1, 3]),
  0x44523722: K('EVENTFD_FILE'),
  0x45023858: K('EVENTPOLL_FILE'),
  0x44433746: K('EVENTPOLL_TFD'),
  0x57323820: K('SIGNALFD'),
  0x48424431: K('INOTIFY_FILE'),
  0x54562009: K('INOTIFY_WD'),
  0x55563928: K('MNTS'),
  0x57373951: K('NETDEV'),
  0x55933752: K('NETNS'),
  0x59433025: K('TTY_FILES'),
  0x59453036: K('TTY_INFO'),
  0x59413026: K('TTY_DATA'),
  0x54323616: K('FILE_LOCKS'),
  0x57113925: K('RLIMIT'),
  0x55096122: K('FANOTIFY_FILE'),
  0x56506035: K('FANOTIFY_MARK'),
  0x59255647: K('SIGNAL'),
  0x58005614: K('NETLINK_SK'),
  0x61394011: K('NS_FILES'),
  0x57143751: K('TUNFILE'),
  0x59383330: K('CGROUP'),
  0x50493712: K('TIMERFD'),
  0x61404013: K('CPUINFO'),
  0x55474906: K('USERNS'),
  0x64413049: K('SECCOMP'),
  0x67343323: K('BINFMT_MISC'),
  0x49353943: K('AUTOFS'),
  0x56303138: K('FILES'),
  0x48453499: K('MEMFD_INODE'),
  0x43114433: K('TIMENS'),
  0x61157326: K('PIDNS'),
  0x57506142: K('BPFMAP_FILE'),
  0x64324033: K('BPFMAP_DATA', [X_FIELD2, 2, 3]),
  0x59423047: K('APPARMOR'),
  0x54435556: K('PIDFD'),
  0x57093306: K('STATS'),
  0x57004059: K('IRMAP_CACHE'),
  0x57023458: K('KDAT'),
};

/** Raw files (no magic, no framing) by file name. */
export function isRawFile(name: string): boolean {
  return /^pages-\d+\.img$/.test(name) || /^(ifaddr|route6?|rule|iptables|ip6tables|nftables|netns-ct|netns-exp|tmpfs-dev)-.*\.img$/.test(name)
    || /\.tar\.gz\.img$/.test(name);
}

export function hex32(v: number): string {
  return '0x' + (v >>> 0).toString(16).padStart(8, '0');
}
