// Chart images arrive from the webview as data URLs; files are written by the engine's atomic writer.
export { writeFileAtomic } from '../../mimicry/io/atomicFile';

/** `data:image/png;base64,...` -> bytes; null when it is not a PNG data URL. */
export function pngFromDataUrl(url: string): Uint8Array | null {
  const m = /^data:image\/png;base64,([A-Za-z0-9+/=]+)$/.exec(url);
  return m ? Buffer.from(m[1], 'base64') : null;
}
