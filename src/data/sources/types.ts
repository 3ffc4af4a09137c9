// A source yields the images of one dataset in a fixed order, with whatever labels it has.

export interface SourceItem {
  source: string; // 'celeba' | 'utkface' | 'folder' | 'wds'
  /** Unique, stable sample key: `[A-Za-z0-9_-]+` (no dots: WebDataset splits at the first dot). */
  key: string;
  /** The file relative to the source root (or the tar member). */
  file: string;
  identity: string | null;
  attributes: Record<string, unknown>;
  /** A caption given by the source itself (sidecar .txt); otherwise one is made from labels. */
  caption?: string;
  /** The encoded image bytes. */
  load(): Promise<Buffer>;
}

export interface Source {
  name: string;
  root: string;
  /** Items in a deterministic order. */
  items(): AsyncIterable<SourceItem>;
  /** How many items `items()` will yield, when cheap to know (for progress and ETA). */
  estimate?(): Promise<number>;
  /** Every identity of the source, when known up front (for drawing held-out people). */
  identities?(): Promise<string[]>;
  /** Inputs skipped before reaching the face pipeline, by reason (e.g. bad_filename). */
  skipped: Record<string, number>;
}

/** `celeba/000001.jpg` → `celeba_000001_jpg`-style keys, safe for WebDataset. */
export function makeKey(source: string, file: string): string {
  return `${source}_${file.replace(/[^A-Za-z0-9_-]/g, '_')}`;
}

export const IMAGE_EXT = /\.(jpe?g|png|webp|tiff?|gif|avif)$/i;
