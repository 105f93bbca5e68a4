// Types for package.mjs.
/** vsce target -> the folder of node_modules/webgpu/dist that holds its dawn.node. */
export declare const TARGETS: Readonly<Record<string, string>>;
