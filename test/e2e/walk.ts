/**
 * Walks a compiled runbook: reads its steps back from README.md
 * (`parseRunbook`) and runs each block with bash, in order, each machine's
 * blocks as if pasted into one shell: the folder and the exported variables
 * a block leaves are where the next block of that machine starts
 * (kept in a private state folder, removed at the end).
 *
 * A block fails the walk when it exits non-zero: a runbook that lies fails
 * the tests. A step is skipped only when it needs a variable the walk is not
 * given (`needs`) or the caller says why (`skip`); skipped steps are
 * returned with their reason.
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseRunbook, type ParsedStep, type StepPlace } from "../../compile/emit/runbook.js";
import { run, type Result } from "./fixture.js";

export interface WalkOptions {
  /** The compiled runbook (README.md). */
  readme: string;
  /** Where each machine's shell starts. */
  start: Record<StepPlace, string>;
  /** Each machine's environment (HOME, PATH with `airgap`, MEDIA, the lab's ANSIBLE_* …). */
  env: Record<StepPlace, NodeJS.ProcessEnv>;
  /** What the operator types at the steps that read input, by variable name. */
  input?: Record<string, string>;
  /** Words the lab adds to a command that starts with the key (`airgap bundle`), by step id: its stand-ins for the Internet. */
  extra?: Record<string, Record<string, string[]>>;
  /** A reason to skip a step, by step id. */
  skip?: Record<string, string>;
  /** Only these steps (by id); the others are left out, not reported. */
  only?: string[];
  /** Output of every step is appended here. */
  log: string;
  /** Called after each step (timings). */
  onStep?: (step: ParsedStep, r: WalkedStep) => void | Promise<void>;
}

export interface WalkedStep extends Partial<Result> {
  id: string;
  on: StepPlace;
  /** The commands as run (with the lab's extra words). */
  commands: string[];
  skipped?: string;
}

const quote = (s: string) => `'${s.replace(/'/g, "'\\''")}'`;

/** The command lines with the lab's extra words added after the matching ones. */
function withExtra(commands: string[], extra: Record<string, string[]> | undefined): string[] {
  if (!extra) return commands;
  return commands.map((c) => {
    const key = Object.keys(extra).find((k) => c.startsWith(`${k} `));
    return key ? `${c} ${extra[key].map(quote).join(" ")}` : c;
  });
}

/** Runs the runbook's steps; rejects at the first step that fails, naming it, with the tail of its output. */
export async function walkRunbook(o: WalkOptions): Promise<WalkedStep[]> {
  const steps = parseRunbook(readFileSync(o.readme, "utf8")).filter((s) => !o.only || o.only.includes(s.id));
  if (steps.length === 0) throw new Error(`${o.readme} has no marked steps`);
  // A shell cannot start in a folder that is not there (spawn says only "bash ENOENT").
  for (const [place, dir] of Object.entries(o.start)) if (!existsSync(dir)) throw new Error(`the ${place}'s shell starts in ${dir}, which does not exist`);
  const state = mkdtempSync(path.join(os.tmpdir(), "airgap-walk-"));
  chmodSync(state, 0o700);
  const done: WalkedStep[] = [];
  try {
    for (const place of ["bastion", "controller"] as const) {
      mkdirSync(path.join(state, place));
      writeFileSync(path.join(state, place, "pwd"), o.start[place]);
      writeFileSync(path.join(state, place, "env"), "");
    }
    for (const step of steps) {
      const commands = withExtra(step.commands, o.extra?.[step.id]);
      const missing = step.needs.filter((n) => !o.env[step.on][n]);
      const skipped = o.skip?.[step.id] ?? (missing.length ? `needs ${missing.join(", ")}` : undefined);
      if (skipped) {
        const r = { id: step.id, on: step.on, commands, skipped };
        done.push(r);
        await o.onStep?.(step, r);
        continue;
      }
      const dir = path.join(state, step.on);
      // As pasted into the machine's shell: its folder and exports from the blocks before.
      const script = [
        "set -euo pipefail",
        `source ${quote(path.join(dir, "env"))}`,
        `cd "$(cat ${quote(path.join(dir, "pwd"))})"`,
        ...commands,
        `pwd > ${quote(path.join(dir, "pwd"))}`,
        `export -p > ${quote(path.join(dir, "env"))}`,
      ].join("\n");
      const input = step.input.length ? step.input.map((n) => `${o.input?.[n] ?? ""}\n`).join("") : undefined;
      writeFileSync(o.log, `\n=== step ${step.id} (${step.on}) ===\n${commands.join("\n")}\n`, { flag: "a" });
      const r = await run("bash", ["-c", script], { cwd: o.start[step.on], env: o.env[step.on], log: o.log, input });
      const walked = { id: step.id, on: step.on, commands, ...r };
      done.push(walked);
      await o.onStep?.(step, walked);
      if (r.code !== 0) {
        const tail = (r.stdout + r.stderr).split("\n").slice(-40).join("\n");
        throw new Error(`runbook step ${step.id} (${step.on}) failed, exit ${r.code}:\n${commands.join("\n")}\n---\n${tail}`);
      }
    }
    return done;
  } finally {
    rmSync(state, { recursive: true, force: true });
  }
}
