// One frozen array for equal shapes met close together: a header lists few distinct shapes many times
// over (100,000 tensors of ten shapes), so most tensors need no shape array of their own (6 MB less to
// build and collect for 100,000 tensors), and the inspector's columns find a shape by its array
// before they compare contents.

export class RecentShapes {
  /** Most recent first. */
  private readonly recent: (readonly number[])[] = [];

  constructor(private readonly size: number) {}

  /** A frozen shape equal to dims [from, from + rank): one handed out lately, or a new one. */
  get(dims: ArrayLike<number>, from = 0, rank = dims.length - from): readonly number[] {
    for (const shape of this.recent) {
      if (shape.length !== rank) continue;
      let k = 0;
      while (k < rank && shape[k] === dims[from + k]) k++;
      if (k === rank) return shape;
    }
    const fresh = new Array<number>(rank);
    for (let k = 0; k < rank; k++) fresh[k] = dims[from + k];
    const shape = Object.freeze(fresh);
    if (this.recent.length === this.size) this.recent.pop();
    this.recent.unshift(shape);
    return shape;
  }
}
