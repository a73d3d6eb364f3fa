// The exports of warden.wasm as TypeScript sees them (ABI.md §Exports): the
// one description JavaScript hosts and the raw-ABI tests share.

export interface WardenExports {
  memory: WebAssembly.Memory;
  abi_version(): number;
  alloc(size: number): number;
  free(ptr: number): void;
  load(ptr: number, len: number): number;
  output_ptr(): number;
  output_len(): number;
  request_reserve(size: number): number;
  decide(len: number): number;
  explain(len: number): number;
  parse_time(ptr: number, len: number): number;
  intern(ptr: number, len: number): number;
  intern_reset(): void;
  state_export(): number;
  state_import(ptr: number, len: number): number;
}
