// Errors of the safetensors core. Every refusal names the file and a stable rule code, so the UI
// and the CLI can react to the rule and show the message as it is.
import { EngineError } from '../errors';

/** Stable machine codes, one per validation rule or failure. Never rename one: callers match on them. */
export type SafetensorsRule =
  // the file itself, before any byte is read
  | 'not-a-regular-file'
  | 'symlink-loop'
  // first 8 bytes and header bounds
  | 'file-too-small'
  | 'header-too-large'
  | 'header-past-end'
  // header text
  | 'header-not-utf8'
  | 'header-not-json'
  | 'header-too-deep'
  | 'header-not-object'
  | 'duplicate-key'
  // tensor entries
  | 'invalid-entry'
  | 'unknown-dtype'
  | 'invalid-shape'
  | 'too-many-dimensions'
  | 'invalid-data-offsets'
  | 'element-count-overflow'
  | 'misaligned-bits'
  | 'size-mismatch'
  | 'offsets-reversed'
  | 'offsets-not-contiguous'
  | 'data-area-mismatch'
  | 'invalid-metadata'
  // sharded index
  | 'index-not-json'
  | 'index-invalid'
  | 'shard-path-unsafe'
  | 'shard-outside-folder'
  | 'tensor-missing-in-shard'
  | 'tensor-not-in-index'
  | 'duplicate-tensor'
  // reading
  | 'tensor-not-found'
  | 'invalid-range'
  | 'index-out-of-range'
  | 'dtype-not-decoded'
  | 'short-read'
  | 'closed'
  // writing
  | 'invalid-tensor'
  | 'refuse-overwrite-source'
  | 'stream-length-mismatch'
  | 'header-outgrew-reservation';

/** Plain-words description of each rule, used at the start of every message. */
export const SAFETENSORS_RULE_TEXT: Record<SafetensorsRule, string> = {
  'not-a-regular-file': 'not a regular file: only regular files are read as checkpoints',
  'symlink-loop': 'symbolic links loop (or nest too deeply) and never reach a file',
  'file-too-small': 'file is shorter than the 8-byte header length',
  'header-too-large': 'header length is over the 100,000,000 byte limit',
  'header-past-end': 'header extends past the end of the file',
  'header-not-utf8': 'header is not valid UTF-8',
  'header-not-json': 'header is not valid JSON',
  'header-too-deep': 'header JSON is nested too deeply',
  'header-not-object': 'header JSON is not an object',
  'duplicate-key': 'header has a duplicate key',
  'invalid-entry': 'tensor entry has the wrong shape',
  'unknown-dtype': 'tensor has an unknown dtype',
  'invalid-shape': 'tensor shape is not a list of non-negative integers',
  'too-many-dimensions': 'tensor shape has more dimensions than any framework loads',
  'invalid-data-offsets': 'tensor data_offsets are not two non-negative integers',
  'element-count-overflow': 'tensor element count overflows',
  'misaligned-bits': 'tensor of a sub-byte dtype does not fill a whole number of bytes',
  'size-mismatch': 'tensor byte span does not match dtype size times element count',
  'offsets-reversed': 'tensor data_offsets end before they begin',
  'offsets-not-contiguous': 'tensor data overlaps another tensor or leaves a gap',
  'data-area-mismatch': 'tensor data does not cover the data area up to the exact end of the file',
  'invalid-metadata': '__metadata__ is not a map of strings to strings',
  'index-not-json': 'sharded index is not valid JSON',
  'index-invalid': 'sharded index has the wrong shape',
  'shard-path-unsafe': 'shard file name escapes the index folder',
  'shard-outside-folder': 'shard file is a symbolic link to a file outside the index folder',
  'tensor-missing-in-shard': 'tensor listed in weight_map is missing from its shard',
  'tensor-not-in-index': "tensor in a shard is not listed in the index's weight_map",
  'duplicate-tensor': 'tensor name appears in more than one shard',
  'tensor-not-found': 'tensor is not in this checkpoint',
  'invalid-range': 'byte range is outside the tensor',
  'index-out-of-range': "slice index is outside the tensor's shape",
  'dtype-not-decoded': 'dtype is not decoded to numbers',
  'short-read': 'file ended before the tensor did (was it changed on disk?)',
  closed: 'checkpoint is closed',
  'invalid-tensor': 'tensor to write is invalid',
  'refuse-overwrite-source': 'refusing to write over one of the input files',
  'stream-length-mismatch': 'tensor bytes produced do not match the declared length',
  'header-outgrew-reservation': 'the final header is longer than the space reserved for it before the data',
};

export class SafetensorsError extends EngineError<SafetensorsRule> {
  override readonly name = 'SafetensorsError';
  constructor(file: string, rule: SafetensorsRule, detail?: string) {
    super(file, rule, SAFETENSORS_RULE_TEXT[rule], detail);
  }
  /** Always set: every safetensors refusal is about one file. */
  declare readonly file: string;
}

export function ruleText(rule: SafetensorsRule): string {
  return SAFETENSORS_RULE_TEXT[rule];
}
