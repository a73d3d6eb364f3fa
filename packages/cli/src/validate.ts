import { readPolicyFiles, formatError, Warden, PolicyInvalidError, type LocatedPolicyError } from "@warden/node";
import { parse, UsageError } from "./usage.js";

/** `warden validate FILE...`: every error of the files, as one policy set, at file:line:col. */
export async function validate(args: string[]): Promise<number> {
  const { positionals } = parse(args, {});
  if (positionals.length === 0) throw new UsageError("validate needs at least one policy file");
  try {
    const source = await readPolicyFiles(positionals);
    const warden = await Warden.create();
    try {
      const meta = warden.load(source.policies);
      const rules = meta.policies.reduce((n, p) => n + p.rules.length, 0);
      console.log(`ok: ${meta.policies.length} ${meta.policies.length === 1 ? "policy" : "policies"}, ${rules} ${rules === 1 ? "rule" : "rules"} in ${positionals.length} ${positionals.length === 1 ? "file" : "files"}`);
      return 0;
    } catch (e) {
      if (!(e instanceof PolicyInvalidError)) throw e;
      printErrors(e.errors.map(source.locate));
      return 1;
    }
  } catch (e) {
    if (!(e instanceof PolicyInvalidError)) throw e;
    printErrors(e.errors as LocatedPolicyError[]);
    return 1;
  }
}

function printErrors(errors: LocatedPolicyError[]): void {
  const sorted = [...errors].sort((a, b) =>
    (a.file ?? "").localeCompare(b.file ?? "") || (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0));
  for (const e of sorted) console.log(formatError(e));
  console.error(`${errors.length} ${errors.length === 1 ? "error" : "errors"}`);
}
