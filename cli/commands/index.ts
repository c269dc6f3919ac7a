// The explicit list of tscr's commands. One file per command; add yours here.
import type { Command } from '../context.ts';
import check from './check.ts';
import convert from './convert.ts';
import decode from './decode.ts';
import demo from './demo.ts';
import dump from './dump.ts';
import encode from './encode.ts';
import info from './info.ts';
import restore from './restore.ts';
import show from './show.ts';
import version from './version.ts';
import x from './x.ts';

export const commands: Command[] = [
  check,
  convert,
  decode,
  demo,
  dump,
  encode,
  info,
  restore,
  show,
  version,
  x,
];
