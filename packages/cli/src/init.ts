import { mkdir, writeFile, access } from "node:fs/promises";
import { join, relative } from "node:path";
import { parse, UsageError } from "./usage.js";
import { STARTER_POLICY, STARTER_TESTS } from "./starter.js";

/** `warden init [DIR]`: a starter policy and its tests, which `warden test` passes. */
export async function init(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { force: { type: "boolean" } });
  if (positionals.length > 1) throw new UsageError("init takes at most one folder");
  const dir = positionals[0] ?? ".";
  const files: Array<[string, string]> = [
    [join(dir, "policies", "support-bot.yaml"), STARTER_POLICY],
    [join(dir, "tests", "support-bot.test.yaml"), STARTER_TESTS],
  ];
  if (!values.force) {
    for (const [path] of files) {
      const exists = await access(path).then(() => true, () => false);
      if (exists) throw new UsageError(`${path} exists: pass --force to overwrite it`);
    }
  }
  for (const [path, text] of files) {
    await mkdir(join(path, ".."), { recursive: true });
    await writeFile(path, text);
    console.log(`wrote ${path}`);
  }
  const here = (p: string) => relative(process.cwd(), p) || ".";
  const policy = here(files[0][0]);
  console.log(`
next:
  warden validate ${policy}
  warden test ${here(files[1][0])}
  warden check --policy ${policy} --context '{"amount": 600}' --explain tool.call tool/issue_refund`);
  return 0;
}
