// Source specs on the command line: `celeba:DIR`, `utkface:DIR`, `folder:DIR`, `wds:PATH`;
// a bare directory is recognised by its layout.
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { celebaSource } from './celeba.js';
import { folderSource } from './folder.js';
import { utkfaceSource } from './utkface.js';
import { wdsSource } from './wds.js';
import type { Source } from './types.js';

export type { Source, SourceItem } from './types.js';
export { celebaSource, readCeleba } from './celeba.js';
export { utkfaceSource, folderSource, wdsSource };

export function openSource(spec: string): Source {
  const m = /^(celeba|utkface|folder|wds):(.+)$/.exec(spec);
  const [kind, path] = m ? [m[1], m[2]] : [detectKind(spec), spec];
  if (!existsSync(path)) throw new Error(`source ${spec}: ${path} does not exist`);
  switch (kind) {
    case 'celeba': return celebaSource(path);
    case 'utkface': return utkfaceSource(path);
    case 'wds': return wdsSource(path);
    default: return folderSource(path);
  }
}

function detectKind(path: string): string {
  if (!existsSync(path)) throw new Error(`source ${path} does not exist`);
  if (statSync(path).isFile() && path.endsWith('.tar')) return 'wds';
  if (existsSync(join(path, 'identity.txt')) || existsSync(join(path, 'attributes.txt'))) return 'celeba';
  if (/utk/i.test(path) && existsSync(join(path, 'images'))) return 'utkface';
  return 'folder';
}
