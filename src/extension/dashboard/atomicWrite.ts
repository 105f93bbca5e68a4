// Chart images arrive from the webview as PNG data URLs or SVG text (checked in ./chartSvg); files
// are written by the engine's atomic writer.
export { writeFileAtomic } from '../../mimicry/io/atomicFile';

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** `data:image/png;base64,...` -> bytes; null when it is not a PNG data URL (or the bytes are not a PNG). */
export function pngFromDataUrl(url: string): Uint8Array | null {
  const m = /^data:image\/png;base64,([A-Za-z0-9+/=]+)$/.exec(url);
  if (!m) return null;
  const bytes = Buffer.from(m[1], 'base64');
  return PNG_SIGNATURE.every((b, i) => bytes[i] === b) ? bytes : null;
}
