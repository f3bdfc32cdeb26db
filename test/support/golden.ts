// Golden files of the flows' plain output (the CI renderer), as flux pins its CLI
// output in testdata/*.golden, and the runbook's examples, which must equal them.
// `UPDATE_GOLDEN=1 npx vitest run --project integration golden` rewrites both.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "../../scripts/lib/paths.ts";

export const goldenDir = join(repoRoot, "test/integration/testdata");
export const runbook = join(repoRoot, "docs/runbook.md");
export const updating = process.env.UPDATE_GOLDEN === "1";

/** What differs from run to run becomes a placeholder: ports, temp folders, UIDs and the mirror names made from them. */
export function normalize(text: string): string {
  return text
    .replace(/https:\/\/127\.0\.0\.1:\d+/g, "https://127.0.0.1:<port>")
    .replace(/\/tmp\/[A-Za-z0-9._-]+/g, "<tmp>")
    .replace(/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/g, "<uid>")
    .replace(/\ba[0-9a-f]{31}\b/g, "a<uid>")
    .trimEnd()
    .concat("\n");
}

/** The example blocks of the runbook: `<!-- golden: NAME -->` before a fenced block (Prettier puts a blank line between). */
export function runbookExamples(text: string): { name: string; body: string; start: number; end: number }[] {
  return [...text.matchAll(/<!-- golden: ([a-z0-9-]+) -->\n\n?```\n([\s\S]*?)```\n/g)].map((m) => ({
    name: m[1]!,
    body: m[2]!,
    start: m.index!,
    end: m.index! + m[0].length,
  }));
}

export function goldenPath(name: string): string {
  return join(goldenDir, `${name}.golden`);
}

/** Writes a golden file and the runbook block of the same name (update mode only). */
export function updateGolden(name: string, content: string): void {
  writeFileSync(goldenPath(name), content);
  const text = readFileSync(runbook, "utf8");
  const block = runbookExamples(text).find((b) => b.name === name);
  if (block)
    writeFileSync(
      runbook,
      `${text.slice(0, block.start)}<!-- golden: ${name} -->\n\n\`\`\`\n${content}\`\`\`\n${text.slice(block.end)}`,
    );
}
