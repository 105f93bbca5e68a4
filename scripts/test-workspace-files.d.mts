// Types for test-workspace-files.mjs.
export declare const WORKSPACE_FILES: {
  readonly real: Readonly<Record<string, number>>;
  readonly adapter: string;
  readonly adapterTensors: number;
  readonly family: readonly string[];
  readonly familySharedLayers: number;
  readonly familyBanks: number;
  readonly familyBase: string;
  readonly shardedIndex: string;
  readonly shardedTensors: number;
  readonly hostile: string;
  readonly hostileName: string;
  readonly hostileTensors: number;
  readonly corruptHugeHeader: string;
  readonly corruptNotJson: string;
  readonly many: string;
  readonly manyLayers: number;
  readonly manyTensors: number;
};
