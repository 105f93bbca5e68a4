// The safetensors core: read, validate, decode, write.
export type * from './types';
export * from './errors';
export * from './dtypes';
export * from './header';
export * from './reader';
export * from './sharded';
export * from './writer';
