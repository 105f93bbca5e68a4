// How a message from the extension host reaches a webview in VS Code (engines.vscode >= 1.57, as
// ours is), modelled for the open bench (so that the transfer it times is the one a user waits for)
// and for the tests of what crosses (typed arrays must arrive as typed arrays of the same kind):
// - the extension host serializes it with JSON.stringify and a replacer that swaps every typed
//   array (and ArrayBuffer) for a small reference, the bytes going beside the JSON; the replacer
//   runs for every value in the message, so a message of 100,000 strings pays 100,000 calls;
// - the window's renderer parses the JSON (with a reviver that rebuilds the typed arrays, when the
//   message had any) and posts the message into the webview's frame: a structured clone, the
//   buffers moved (in its transfer list).
// Node has the same JSON and structured clone as the browser (V8), so the costs carry over.

type Ref = { readonly $ref: number; readonly view: string; readonly byteOffset: number; readonly length: number };

const VIEWS = {
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
} as const;
type ViewName = keyof typeof VIEWS;

export function throughWebviewMessage<T>(message: T): T {
  const buffers: ArrayBufferLike[] = [];
  const refOf = (buffer: ArrayBufferLike): number => {
    const known = buffers.indexOf(buffer);
    return known >= 0 ? known : buffers.push(buffer) - 1;
  };
  const json = JSON.stringify(message, (_key, value: unknown) => {
    if (value instanceof ArrayBuffer) return { $ref: refOf(value), view: '', byteOffset: 0, length: value.byteLength };
    if (ArrayBuffer.isView(value) && value.constructor.name in VIEWS) {
      const v = value as unknown as { buffer: ArrayBufferLike; byteOffset: number; length: number };
      return { $ref: refOf(v.buffer), view: value.constructor.name, byteOffset: v.byteOffset, length: v.length } satisfies Ref;
    }
    return value;
  });
  // The bytes cross the process boundary (one copy), and the renderer copies them into new
  // ArrayBuffers (another).
  const arrived = buffers.map((b) => new Uint8Array(new Uint8Array(b).slice()).slice().buffer);
  const revive = (_key: string, value: unknown): unknown => {
    if (value === null || typeof value !== 'object' || !('$ref' in value)) return value;
    const ref = value as Ref;
    const buffer = arrived[ref.$ref];
    return ref.view === '' ? buffer : new VIEWS[ref.view as ViewName](buffer, ref.byteOffset, ref.length);
  };
  const parsed = (buffers.length > 0 ? JSON.parse(json, revive) : JSON.parse(json)) as T;
  // Into the webview's frame with the buffers in the transfer list: moved, not copied.
  return structuredClone(parsed, { transfer: arrived });
}
