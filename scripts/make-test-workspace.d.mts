// Types for make-test-workspace.mjs, so the TypeScript suites can share its constants.
export { WORKSPACE_FILES } from './test-workspace-files.mjs';
export interface GeneratedTensor {
  name: string;
  shape: number[];
  data: Float32Array;
}
export declare function safetensorsBytes(tensors: GeneratedTensor[], metadata?: Record<string, string>): Buffer;
export declare function makeTestWorkspace(dir: string): string;
