import { Warden as CoreWarden, PolicyInvalidError, cacheOption, type ConnectOptions, type PolicyMetadata, type WardenOptions } from "@warden/core";
import { diskCache } from "./disk-cache.js";
import { readPolicyFiles, type LocatedPolicyError } from "./policy-files.js";
import { wardenModule } from "./wasm.js";

export interface NodeWardenOptions extends Partial<WardenOptions> {}

/** `Warden.connect` options in Node: the wasm, the cache and the warnings have defaults. */
export interface NodeConnectOptions extends NodeWardenOptions, Omit<ConnectOptions, "cache"> {
  /** Where the bundle survives restarts: a BundleCache, a folder, or false for none (default ~/.warden/cache). */
  cache?: ConnectOptions["cache"] | string | false;
}

/**
 * Warden for Node.js: `@warden/core`'s client with warden.wasm from this
 * package and policies from YAML or JSON files.
 *
 * @example
 * import { Warden } from "@warden/node";
 * const warden = await Warden.fromFile("policies/support-bot.yaml");
 * warden.enforce("tool.call", "tool/lookup_order", { order_id: "ord_1001" });
 */
export class Warden extends CoreWarden {
  /** Files the policies in force came from, when they came from files. */
  files: string[] = [];

  /** A client using this package's warden.wasm (unless `wasm` is given), with `policies` loaded when given. */
  static override async create<W extends CoreWarden = Warden>(this: unknown, options: NodeWardenOptions = {}): Promise<W> {
    return CoreWarden.create.call(this as typeof Warden, { ...options, wasm: options.wasm ?? wardenModule() }) as Promise<W>;
  }

  /**
   * A client that enforces a project's signed bundles from a URL, starting from
   * its disk cache (~/.warden/cache/{project}.bundle.json unless told
   * otherwise), so a process started offline enforces the last good bundle.
   * Cache problems are reported as process warnings.
   */
  static override async connect<W extends CoreWarden = Warden>(this: unknown, options: NodeConnectOptions): Promise<W> {
    return CoreWarden.connect.call(this as typeof Warden, {
      ...options,
      wasm: options.wasm ?? wardenModule(),
      cache: cacheOption(options.cache, diskCache),
      warn: options.warn ?? ((message: string) => process.emitWarning(message, { code: "WARDEN_BUNDLE" })),
    }) as Promise<W>;
  }

  /**
   * A client with the policies of one or more files (YAML or JSON; each holds
   * a policy or an array of them; they concatenate in order). Throws
   * `PolicyInvalidError` whose `errors` carry `file`, `line` and `column`.
   */
  static async fromFile(paths: string | readonly string[], options: NodeWardenOptions = {}): Promise<Warden> {
    const warden = await Warden.create<Warden>(options);
    await warden.loadFile(paths);
    return warden;
  }

  /** Loads the policies of files in place of the ones in force (which stay if these do not load). */
  async loadFile(paths: string | readonly string[], options: { bundleVersion?: number } = {}): Promise<PolicyMetadata> {
    const source = await readPolicyFiles(paths);
    try {
      const metadata = this.load(source.policies, options);
      this.files = source.files;
      return metadata;
    } catch (e) {
      if (e instanceof PolicyInvalidError) throw new PolicyInvalidError(e.errors.map(source.locate));
      throw e;
    }
  }
}

export { readPolicyFiles, formatError } from "./policy-files.js";
export type { LocatedPolicyError, PolicyFiles } from "./policy-files.js";
export { wasmPath, wardenModule } from "./wasm.js";
export { diskCache, defaultCacheDir } from "./disk-cache.js";
export { auditLog, type AuditLog } from "./audit-log.js";
export {
  PolicyInvalidError, PolicyViolationError, WardenError, BundleError, buildBundle, parseBundle, signingKeyFromSeed, REDACTED,
} from "@warden/core";
export type {
  Agent, CheckOptions, Decision, Effect, ErrorCode, Explanation, ExplainedRule, PatternMatch, PolicyDocument, PolicyError,
  PolicyInput, PolicyMetadata, RateLimitRef, RecoveredEvent, WardenOptions, BundleCache, BundleFile, BundleSpec,
  BundleStatus, BundleTrust, BundleUpdate, ConnectOptions, WardenEvents, AuditRecord, AuditSink,
} from "@warden/core";
