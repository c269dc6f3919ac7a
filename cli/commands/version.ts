import type { Command } from '../context.ts';
import { core } from '../../core-as/host.ts';

const version: Command = {
  command: 'version',
  describe: 'Print the tscr version and the image format it speaks',
  run(_args, ctx) {
    const info = { tscr: '0.1.0', core: core().core_version(), format: 'CRIU images (x86_64)' };
    if (ctx.jsonMode) ctx.json(info);
    else ctx.out(`tscr ${info.tscr} (core ${info.core}), ${info.format}\n`);
    return 0;
  },
};
export default version;
