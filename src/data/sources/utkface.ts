// UTKFace: labels live in the file name; malformed names are skipped and counted.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseUtkName } from '../captions.js';
import { IMAGE_EXT, makeKey, type Source, type SourceItem } from './types.js';

export function utkfaceSource(root: string): Source {
  const skipped: Record<string, number> = {};
  return {
    name: 'utkface',
    root,
    skipped,
    estimate: async () => (await readdir(join(root, 'images'))).filter((f) => IMAGE_EXT.test(f) && parseUtkName(f)).length,
    async *items(): AsyncGenerator<SourceItem> {
      const dir = join(root, 'images');
      const files = (await readdir(dir)).filter((f) => IMAGE_EXT.test(f)).sort();
      for (const file of files) {
        const label = parseUtkName(file);
        if (!label) { skipped.bad_filename = (skipped.bad_filename ?? 0) + 1; continue; }
        const path = join(dir, file);
        yield { source: 'utkface', key: makeKey('utk', file.replace(/\.chip\.jpg$/, '').replace(/\.jpg$/, '')), file, identity: null, attributes: { ...label }, load: () => readFile(path) };
      }
    },
  };
}
