// The explicit list of tscr's commands. One file per command; add yours here.
import type { Command } from '../context.ts';
import check from './check.ts';
import convert from './convert.ts';
import decode from './decode.ts';
import demo from './demo.ts';
import diff from './diff.ts';
import dump from './dump.ts';
import encode from './encode.ts';
import info from './info.ts';
import mem from './mem.ts';
import netUnlock from './net-unlock.ts';
import report from './report.ts';
import restore from './restore.ts';
import show from './show.ts';
import validate from './validate.ts';
import version from './version.ts';
import x from './x.ts';

export const commands: Command[] = [
  check,
  convert,
  decode,
  demo,
  diff,
  dump,
  encode,
  info,
  mem,
  netUnlock,
  report,
  restore,
  show,
  validate,
  version,
  x,
];
