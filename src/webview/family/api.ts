// The typed side of `acquireVsCodeApi()` for the Family dashboard: messages follow ../protocol.ts;
// the state is what a reloaded window reopens the family from (the serializer reads it).
import type { FamilyState, FromFamily } from '../protocol';
import { acquireWebviewApi } from '../shared/vscodeApi';

export const { post, loadState, saveState } = acquireWebviewApi<FromFamily, FamilyState>();
