// Block index and module role of reparameterized tensors, read from their names against each other
// (the engine's grouping), so an inner index (T5's `layer.{j}`, an expert number) never hides the block.
import { assignBlocks, parseWeightName } from '../recast/grouping';

export type BlockAndRole = (name: string) => { block: number | null; role: string };

export function blocksAndRoles(names: readonly string[]): BlockAndRole {
  const placed = assignBlocks(names.map((name) => ({ name })));
  return (name) => {
    const p = placed.get(name) ?? parseWeightName(name);
    return p ? { block: p.block, role: p.role } : { block: null, role: name };
  };
}
