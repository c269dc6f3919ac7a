// The explicit list of tscr's commands. One file per command; add yours here.
import type { Command } from '../context.ts';
import version from './version.ts';
import dump from './dump.ts';
import check from './check.ts';
import decode from './decode.ts';
import encode from './encode.ts';
import info from './info.ts';
import show from './show.ts';
import x from './x.ts';
import restore from './restore.ts';
import demo from './demo.ts';

export const commands: Command[] = [
  version,
  check,
  decode,
  encode,
  info,
  show,
  x,
  dump,
  restore,
  demo,
];
