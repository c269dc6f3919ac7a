// The explicit list of tscr's commands. One file per command; add yours here.
import type { Command } from '../context.ts';
import version from './version.ts';
import validate from './validate.ts';
import mem from './mem.ts';
import diff from './diff.ts';
import report from './report.ts';
import dump from './dump.ts';
import convert from './convert.ts';

export const commands: Command[] = [
  version,
  validate,
  mem,
  diff,
  report,
  dump,
  convert,
];
