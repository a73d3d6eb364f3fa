// Warden with its kept decisions switched off (`keepDecisions: false`): every
// check goes through warden.wasm, so this is the engine's own cost on every workload.
import warden from "./warden.mjs";

export default {
  ...warden,
  id: "warden-uncached",
  label: "Warden, no kept decisions",
  call: "`warden.check(action, resource, context, { agent })` on a client created with `keepDecisions: false`",
  create: (api) => api.Warden.create({ keepDecisions: false }),
};
