// Names fixed by docs/FORMAT.md (version 1), shared by the writer and the reader of recast files.
export const RECAST_FORMAT = 'recast';
export const RECAST_VERSION = '1';
export const TEMPLATE_PREFIX = 'recast.templates.';
export const COEFFICIENT_PREFIX = 'recast.coefficients.';
/** Added key (docs/FORMAT.md allows additions): the source's whole __metadata__, since `format` is overwritten. */
export const SOURCE_METADATA_KEY = 'recast.source_metadata';
export const BANK_NAME = /^[A-Za-z0-9._-]+$/;
