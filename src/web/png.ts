// PNG encoding in the browser (fast-png, pure JS). The bytes differ from sharp's, the pixels do not.
import { encode } from 'fast-png';

export async function encodePngBrowser(pixels: Uint8Array, width: number, height: number, channels: number): Promise<Uint8Array> {
  if (![1, 3, 4].includes(channels)) throw new Error(`cannot write a PNG with ${channels} channels`);
  return encode({ width, height, data: pixels, channels, depth: 8 });
}

export function pngDataUrl(png: Uint8Array): string {
  let s = '';
  for (let i = 0; i < png.length; i += 0x8000) s += String.fromCharCode(...png.subarray(i, i + 0x8000));
  return `data:image/png;base64,${btoa(s)}`;
}
