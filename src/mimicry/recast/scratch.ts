// Working buffers reused from group to group and tensor to tensor. V8 frees an ArrayBuffer only
// when its collector gets round to it (driven by total external allocation), so a fresh buffer per
// member or per write leaves many dead ones alive at once: memory would follow V8's schedule, not
// the largest group. Reusing named slots keeps it at the working set.

export class Scratch {
  private readonly slots = new Map<string, ArrayBuffer>();
  /** Buffers of forgotten names (recycle), smallest first: the next names asked for take them. */
  private spares: ArrayBuffer[] = [];

  /** `length` float32 values from slot `name`; they hold whatever the slot held last. */
  floats(name: string, length: number): Float32Array {
    return new Float32Array(this.buffer(name, 4 * length), 0, length);
  }

  /** `length` bytes from slot `name`. */
  bytes(name: string, length: number): Uint8Array {
    return new Uint8Array(this.buffer(name, length), 0, length);
  }

  /** Bytes held by all slots and spares. */
  get size(): number {
    let s = 0;
    for (const b of this.slots.values()) s += b.byteLength;
    for (const b of this.spares) s += b.byteLength;
    return s;
  }

  /** Drops every slot and spare (views handed out keep their own buffers alive). */
  clear(): void {
    this.slots.clear();
    this.spares = [];
  }

  /**
   * Forgets the names but keeps the buffers for whatever is asked next, under any name: work that
   * follows other work (an export's writes after the fits) reuses its buffers instead of allocating
   * beside them while the dead ones wait for the collector. The caller must hold no view of them.
   */
  recycle(): void {
    this.spares.push(...this.slots.values());
    this.spares.sort((a, b) => a.byteLength - b.byteLength);
    this.slots.clear();
  }

  private buffer(name: string, byteLength: number): ArrayBuffer {
    let b = this.slots.get(name);
    if (!b || b.byteLength < byteLength) {
      this.slots.delete(name); // let the old one go before the bigger one is allocated
      const spare = this.spares.findIndex((x) => x.byteLength >= byteLength);
      b = spare >= 0 ? this.spares.splice(spare, 1)[0] : new ArrayBuffer(byteLength);
      this.slots.set(name, b);
    }
    return b;
  }
}
