// The common generic format: a folder (searched recursively) of images, each with an optional
// sidecar caption `name.txt` next to `name.jpg`.
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { IMAGE_EXT, makeKey, type Source, type SourceItem } from './types.js';

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await walk(p)));
    else if (IMAGE_EXT.test(e.name)) out.push(p);
  }
  return out;
}

export function folderSource(root: string): Source {
  const skipped: Record<string, number> = {};
  return {
    name: 'folder',
    root,
    skipped,
    estimate: async () => (await walk(root)).length,
    async *items(): AsyncGenerator<SourceItem> {
      const files = (await walk(root)).sort();
      for (const path of files) {
        const file = relative(root, path);
        const txt = path.replace(/\.[^.]+$/, '.txt');
        let caption: string | undefined;
        if (existsSync(txt)) caption = (await readFile(txt, 'utf8')).trim().split('\n')[0];
        yield { source: 'folder', key: makeKey('folder', file), file, identity: null, attributes: {}, caption, load: () => readFile(path) };
      }
    },
  };
}
