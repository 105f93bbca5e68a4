// Block index and module role of a reparameterized tensor, from its name (the engine's parser).
import { parseWeightName } from '../recast/grouping';

export function blockAndRole(name: string): { block: number | null; role: string } {
  const p = parseWeightName(name);
  return p ? { block: p.block, role: p.role } : { block: null, role: name };
}
