/** A Dockerfile read with dockerfile-ast, split into its stages (each FROM and what follows it). */
import { DockerfileParser, type Instruction } from "dockerfile-ast";

export interface Stage {
  name: string | null;
  image: string;
  instructions: Instruction[];
}

export function stages(content: string): Stage[] {
  const out: Stage[] = [];
  for (const instruction of DockerfileParser.parse(content).getInstructions()) {
    if (instruction.getKeyword() === "FROM") {
      const args = instruction.getArguments().map((a) => a.getValue());
      const as = args.findIndex((a) => a.toUpperCase() === "AS");
      out.push({ image: args[0]!, name: as >= 0 ? args[as + 1]! : null, instructions: [] });
    } else {
      out.at(-1)?.instructions.push(instruction);
    }
  }
  return out;
}

export function withKeyword(stage: Stage, keyword: string): Instruction[] {
  return stage.instructions.filter((i) => i.getKeyword() === keyword);
}

/** The arguments of an instruction in exec (JSON) form, e.g. `CMD ["node", "x"]`. */
export function execForm(instruction: Instruction): string[] {
  const text = instruction.getArgumentsContent() ?? "";
  const json = text.slice(text.indexOf("["));
  return JSON.parse(json) as string[];
}

/** `COPY [--from=stage] [--chown=…] src… dst`: its sources, destination and source stage. */
export function copyOf(instruction: Instruction): { from: string | null; sources: string[]; dest: string } {
  // Flags (--from, --chown) are not arguments for dockerfile-ast.
  const flags = (instruction as unknown as { getFlags(): { getName(): string; getValue(): string | null }[] }).getFlags();
  const from = flags.find((f) => f.getName() === "from")?.getValue() ?? null;
  const paths = instruction.getArguments().map((a) => a.getValue());
  return { from, sources: paths.slice(0, -1), dest: paths.at(-1)! };
}

/** `ENV A="1" B="2"` as a record. */
export function envOf(stage: Stage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const instruction of withKeyword(stage, "ENV")) {
    for (const p of (instruction as unknown as { getProperties(): { getName(): string; getValue(): string | null }[] }).getProperties()) {
      out[p.getName()] = p.getValue() ?? "";
    }
  }
  return out;
}
