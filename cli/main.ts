/** The command line: `airgap compile|validate|check|init|bundle|keygen|export|import|prune|inspect|diff`. Exit 0 ok, 1 invalid site, 2 usage error. */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import chalk from "chalk";
import { formatDiagnostics, type Diagnostic } from "../compile/diagnostics.js";
import { synth } from "../compile/synth.js";
import { diagramSvg, type Rendered } from "../compile/emit/diagram.js";
import { writeProject } from "../compile/write.js";
import { checkoutReader } from "../kubespray/render.js";
import { sourceCommit } from "../compile/kubespray/source.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

/** This installation's version, from its package.json. */
export function version(): string {
  return (JSON.parse(readFileSync(path.join(root, "package.json"), "utf8")) as { version: string }).version;
}

/** A diagnostic as plain data, for --json. */
function diagnosticJson(d: Diagnostic) {
  return { code: d.code, message: d.message, ...(d.at ? { file: d.at.file, line: d.at.line, col: d.at.col } : {}), ...(d.hint ? { hint: d.hint } : {}) };
}

function writeJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value) + "\n");
}

async function compile(site: string, outOption: string | undefined, write: boolean, json = false): Promise<number> {
  if (!existsSync(site)) {
    if (json) writeJson({ ok: false, errors: [{ message: `no such site file: ${site}` }] });
    process.stderr.write(`${chalk.red("error")}: no such site file: ${site}\n`);
    return 1;
  }
  const started = Date.now();
  // Graphviz lays the diagram out while the rest of the project is rendered, checked and compared.
  let layout: Promise<Rendered> | undefined;
  const stop = new AbortController();
  const onDiagram = (dot: string, dir: string) => void (layout ??= diagramSvg(dir, dot, stop.signal));
  let result: Awaited<ReturnType<typeof synth>>;
  try {
    result = await synth(site, { outDir: outOption, checkouts: checkoutReader, ...(write ? { onDiagram } : {}) });
  } catch (err) {
    stop.abort(); // an internal error: no layout is waited for
    throw err;
  }
  if (result.errors.length > 0) {
    stop.abort();
    await layout;
    if (json) writeJson({ ok: false, errors: result.errors.map(diagnosticJson) });
    process.stderr.write(formatDiagnostics(result.errors));
    return 1;
  }
  if (!write) {
    if (json) writeJson({ ok: true, site: result.siteName, files: result.files.size });
    else process.stdout.write(`${chalk.green("ok")} ${site}: site "${result.siteName}" is valid (${result.files.size} files would be written)\n`);
    return 0;
  }
  const dir = result.outDir!;
  // The diagram's layout is Graphviz's: without it the project is complete but for diagram.svg.
  const diagram = await (layout ?? diagramSvg(dir, result.files.get("diagram.dot") ?? ""));
  if (diagram.svg !== undefined) result.files.set("diagram.svg", diagram.svg);
  const report = writeProject(dir, new Map([...result.files].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))));
  const ms = Date.now() - started;
  const note = diagram.reason ? `${chalk.yellow("note")}: no diagram.svg: ${diagram.reason}; diagram.dot is written\n` : "";
  if (json) {
    writeJson({ ok: true, site: result.siteName, outDir: dir, files: result.files.size, ms, ...report, ...(diagram.reason ? { diagram: diagram.reason } : {}) });
    process.stderr.write(note);
    return 0;
  }
  process.stderr.write(note);
  const lines = [
    ...report.added.map((f) => `  ${chalk.green("added")}    ${f}`),
    ...report.changed.map((f) => `  ${chalk.yellow("changed")}  ${f}`),
    ...report.removed.map((f) => `  ${chalk.red("removed")}  ${f}`),
  ];
  process.stdout.write(
    `wrote ${result.files.size} files to ${dir}/ in ${ms} ms: ${report.added.length} added, ${report.changed.length} changed, ` +
      `${report.removed.length} removed, ${report.unchanged.length} unchanged\n${lines.join("\n")}${lines.length ? "\n" : ""}`,
  );
  return 0;
}

/** `airgap check`: nothing Kubespray fetches for the site comes from outside it, or is missing from the bundle. */
async function check(site: string, manifest: string | undefined, kubespray: string | undefined, json = false): Promise<number> {
  for (const [what, f] of [["site file", site], ["manifest", manifest], ["Kubespray checkout", kubespray]] as const) {
    if (f !== undefined && !existsSync(f)) {
      if (json) writeJson({ ok: false, errors: [{ message: `no such ${what}: ${f}` }] });
      process.stderr.write(`${chalk.red("error")}: no such ${what}: ${f}\n`);
      return 1;
    }
  }
  // Loaded on demand: the commands a user runs most should not pay for the others.
  const { checkSite } = await import("../kubespray/check.js");
  let r: Awaited<ReturnType<typeof checkSite>>;
  try {
    r = await checkSite(site, { manifest, kubespray });
  } catch (err) {
    if (json) writeJson({ ok: false, errors: [{ message: (err as Error).message }] });
    process.stderr.write(`${chalk.red("error")}: ${(err as Error).message}\n`);
    return 1;
  }
  if (r.errors.length > 0) {
    if (json) writeJson({ ok: false, errors: r.errors.map(diagnosticJson) });
    process.stderr.write(formatDiagnostics(r.errors));
    return 1;
  }
  const k = r.kubespray;
  const h = r.helm;
  const g = r.goproxy;
  if (json) {
    const ok = (!k || (r.missing.length === 0 && !r.live?.leaks.length && !r.live?.notListed.length)) && r.charts.length === 0 && r.goModules.length === 0;
    writeJson({
      ok,
      site: r.siteName,
      ...(k ? { kubespray: k.version, kubernetes: k.kubernetes, files: k.artifacts.files.length, images: k.artifacts.images.length, missing: r.missing } : {}),
      ...(h ? { helm: { charts: h.charts.length, missing: r.charts } } : {}),
      ...(g ? { goproxy: { modules: g.modules.length, goMod: g.goMods.length, missing: r.goModules } } : {}),
      ...(r.live ? { live: r.live } : {}),
    });
    if (ok) return 0;
  }
  const chartErrors: string[] = [];
  if (h && r.charts.length > 0) {
    chartErrors.push(`${chalk.red("error")}: ${r.charts.length} of what the site's ${h.charts.length} Helm charts need ${r.charts.length === 1 ? "is" : "are"} not in the bundle (${manifest}):`);
    for (const m of r.charts) chartErrors.push(`  ${m.kind} ${m.what}: ${m.why}\n    to add: ${m.fix}`);
  }
  if (g && r.goModules.length > 0) {
    chartErrors.push(`${chalk.red("error")}: ${r.goModules.length} of what the site's Go modules need ${r.goModules.length === 1 ? "is" : "are"} not in the bundle (${manifest}):`);
    for (const m of r.goModules) chartErrors.push(`  ${m.kind} ${m.what}: ${m.why}\n    to add: ${m.fix}`);
  }
  const chartsOk = (h && manifest ? `; its ${h.charts.length} Helm chart${h.charts.length === 1 ? "" : "s"} and their images are in the bundle` : "") +
    (g && manifest ? `; its ${g.modules.length} listed Go module${g.modules.length === 1 ? "" : "s"} and their checksum answers are in the bundle` : "");
  if (!k) {
    if (chartErrors.length > 0) {
      process.stderr.write(`${chartErrors.join("\n")}\n`);
      return 1;
    }
    process.stdout.write(`${chalk.green("ok")} ${site}: site "${r.siteName}" deploys no Kubernetes${chartsOk || "; nothing to check"}\n`);
    return 0;
  }
  const n = `${k.artifacts.files.length} files and ${k.artifacts.images.length} images${sourceCommit(k.catalogue) ? " (and the release's source)" : ""}`;
  const errors: string[] = [...chartErrors];
  if (r.missing.length > 0) {
    errors.push(`${chalk.red("error")}: ${r.missing.length} of the ${n} Kubespray needs ${r.missing.length === 1 ? "is" : "are"} not in the bundle (${manifest}):`);
    for (const m of r.missing) errors.push(`  ${m.kind} ${m.what}: ${m.why}\n    Kubespray variable: ${m.variable}\n    to add: ${m.fix}`);
  }
  if (r.live) {
    if (r.live.leaks.length > 0) {
      errors.push(`${chalk.red("error")}: rendered by the Kubespray checkout, ${r.live.leaks.length} downloads come from outside the site:`);
      for (const l of r.live.leaks) errors.push(`  ${l}`);
    }
    if (r.live.notListed.length > 0) {
      errors.push(`${chalk.red("error")}: the Kubespray checkout fetches ${r.live.notListed.length} things airgap's list for Kubespray ${k.version} lacks (regenerate the catalogue from this checkout):`);
      for (const l of r.live.notListed) errors.push(`  ${l}`);
    }
  }
  if (errors.length > 0) {
    process.stderr.write(`${errors.join("\n")}\n`);
    return 1;
  }
  const proofs = [
    "every one served by the site (files_repo and the site registry)",
    ...(manifest ? [`every one in the bundle (${manifest})`] : []),
    ...(r.live ? [`the checkout's own rendering agrees (${r.live.hosts} hosts)`] : []),
  ];
  const notes = r.live?.notFetched.length ? `\n${chalk.yellow("note")}: listed but not fetched by the checkout: ${r.live.notFetched.join(", ")}` : "";
  process.stdout.write(`${chalk.green("ok")} ${site}: Kubespray ${k.version}, Kubernetes ${k.kubernetes}: ${n}; ${proofs.join("; ")}${chartsOk}${notes}\n`);
  return 0;
}

async function init(dir: string, json: boolean): Promise<number> {
  const { writeStarter, InitRefused } = await import("./starter.js");
  let r: Awaited<ReturnType<typeof writeStarter>>;
  try {
    r = await writeStarter(dir);
  } catch (err) {
    if (!(err instanceof InitRefused)) throw err;
    if (json) writeJson({ ok: false, existing: err.existing });
    process.stderr.write(`${chalk.red("error")}: ${err.message}\n`);
    return 1;
  }
  if (json) {
    writeJson({ ok: true, ...r });
    return 0;
  }
  // The commands to run next, exactly as typed from here.
  const cd = path.resolve(dir) === process.cwd() ? "" : `cd ${/^[\w@%+=:,./-]+$/.test(dir) ? dir : JSON.stringify(dir)} && `;
  process.stdout.write(
    `wrote the site "${r.name}": ${r.files.join(", ")}\n` +
      `the key pair signs its bundles (keep ${r.privateKey} on the bastion; the site trusts key ${r.fingerprint})\n` +
      `next: ${cd}airgap compile site.ts\n`,
  );
  return 0;
}

/** `--split SIZE` in bytes; undefined when not given, null when malformed. */
async function splitOption(text: string | undefined): Promise<number | undefined | null> {
  if (text === undefined) return undefined;
  const { parseSize } = await import("../bundle/transfer.js");
  return parseSize(text) ?? null;
}

/** Colours off for `--no-color` (or `--color=false`) and for a non-empty NO_COLOR (no-color.org). */
export function colorWanted(argv: string[], env: NodeJS.ProcessEnv = process.env): boolean {
  if ((env.NO_COLOR ?? "") !== "") return false;
  return !argv.some((a) => a === "--no-color" || a === "--color=false");
}

/** `airgap compile|validate <site>` with nothing but the options those commands take. */
export interface PlainCompile {
  command: "compile" | "validate";
  site: string;
  /** `-o`/`--out` (compile only). */
  out?: string;
  json: boolean;
}

/**
 * The command line of the two commands a user runs most, read without yargs:
 * loading yargs and building its help text (which it does on every run) took
 * about a quarter of a 1,000-host compile's CPU time. Only the plain forms are
 * taken: the command first, one site file, `-o DIR`/`--out DIR`/`--out=DIR`
 * (compile), `--json`, `--color`/`--no-color`, each option at most once and
 * every value non-empty. Anything else (help, version, a misspelt or repeated
 * option, a missing or extra argument) gives undefined, and yargs parses it
 * with its own messages and exit codes, exactly as before.
 */
export function plainCompile(argv: string[]): PlainCompile | undefined {
  const [command] = argv;
  if (command !== "compile" && command !== "validate") return undefined;
  let parsed;
  try {
    parsed = parseArgs({
      args: argv.slice(1),
      strict: true,
      allowPositionals: true,
      tokens: true,
      options: { json: { type: "boolean" }, color: { type: "boolean" }, "no-color": { type: "boolean" }, out: { type: "string", short: "o" } },
    });
  } catch {
    return undefined;
  }
  const { values, positionals, tokens } = parsed;
  // validate takes no output folder: yargs says so.
  if (command === "validate" && values.out !== undefined) return undefined;
  if (positionals.length !== 1 || positionals[0] === "" || positionals[0].startsWith("-")) return undefined;
  const seen = new Set<string>();
  for (const t of tokens) {
    if (t.kind === "option-terminator") return undefined;
    if (t.kind !== "option") continue;
    // Once each; a value given inline only in the long form (`--out=DIR`), never empty.
    if (seen.has(t.name) || (t.inlineValue && t.rawName !== "--out") || t.value === "") return undefined;
    seen.add(t.name);
  }
  return { command, site: positionals[0], ...(values.out !== undefined ? { out: values.out } : {}), json: values.json === true };
}

export async function main(argv: string[]): Promise<number> {
  if (!colorWanted(argv)) chalk.level = 0;
  const plain = plainCompile(argv);
  if (plain) {
    try {
      return await compile(plain.site, plain.out, plain.command === "compile", plain.json);
    } catch (err) {
      return internalError(err, argv);
    }
  }
  // Loaded here: compile and validate above do not need them.
  const { default: yargs } = await import("yargs");
  const { MIRROR_NAMES } = await import("../bundle/apt.js");
  let code = 0;
  let usageError = false;
  const parser = yargs(argv)
    .scriptName("airgap")
    .usage("$0 <command> [options]")
    .command(
      "compile <site>",
      "Type-check and validate a site file, then write its Ansible project",
      (y) =>
        y
          .positional("site", { type: "string", demandOption: true, describe: "the site file (site.ts)" })
          .option("out", { alias: "o", type: "string", describe: "output folder [default: out/<site name>]" })
          .option("json", { type: "boolean", default: false, describe: "the result as one JSON object on stdout" }),
      async (a) => {
        code = await compile(a.site, a.out, true, a.json);
      },
    )
    .command(
      "validate <site>",
      "Type-check and validate a site file; write nothing",
      (y) => y.positional("site", { type: "string", demandOption: true, describe: "the site file (site.ts)" }).option("json", { type: "boolean", default: false, describe: "the result as one JSON object on stdout" }),
      async (a) => {
        code = await compile(a.site, undefined, false, a.json);
      },
    )
    .command(
      "check <site>",
      "Prove that nothing Kubespray fetches for the site comes from outside it (and, with --manifest, that the bundle holds all of it)",
      (y) =>
        y
          .positional("site", { type: "string", demandOption: true, describe: "the site file (site.ts)" })
          .option("manifest", { alias: "m", type: "string", describe: "a bundle's manifest.json to check against" })
          .option("kubespray", { type: "string", describe: "a Kubespray checkout: render its downloads with the compiled inventory [default: the site's kubespray.checkout]" })
          .option("json", { type: "boolean", default: false, describe: "the result as one JSON object on stdout" }),
      async (a) => {
        code = await check(a.site, a.manifest, a.kubespray, a.json);
      },
    )
    .command(
      "init [dir]",
      "Write a starter site named after the folder (site.ts), the key pair that signs its bundles (keys/) and the editor setup (tsconfig.json)",
      (y) => y.positional("dir", { type: "string", default: ".", describe: "folder to write into (made when missing); its name is the site's" }).option("json", { type: "boolean", default: false, describe: "the result as one JSON object on stdout" }),
      async (a) => {
        code = await init(a.dir, a.json);
      },
    )
    .command(
      "bundle <site>",
      "Work out, fetch and verify what the site needs carried in (OS packages, files, images) into a bundle folder",
      (y) =>
        y
          .positional("site", { type: "string", demandOption: true, describe: "the site file (site.ts)" })
          .option("out", { alias: "o", type: "string", describe: "bundle folder (manifest.json + blobs/)" })
          .option("dry-run", { type: "boolean", default: false, describe: "print what would be fetched and its size per kind; write nothing" })
          .option("files-from", { type: "string", describe: "read plain files from this local mirror, laid out as <host>/<path>" })
          .option("mirror", { type: "string", array: true, describe: `package mirror, NAME=URL (${MIRROR_NAMES.join(", ")})` })
          .option("cache", { type: "string", describe: "apt indexes kept between runs [default: ~/.cache/airgap]" })
          .option("include-base", { type: "boolean", default: false, describe: "also carry the minimal system's own packages" })
          .option("jobs", { alias: "j", type: "number", default: 4, describe: "parallel downloads and image copies" })
          .option("cert-dir", { type: "string", describe: "CA certificates (*.crt) of the upstream registries images are copied from (skopeo --src-cert-dir)" })
          .option("authfile", { type: "string", describe: "credentials for the upstream registries, containers-auth.json (skopeo --src-authfile)" })
          .option("key", { type: "string", describe: "private key (airgap keygen) signing the manifest: manifest.json.sig" })
          .option("export", { type: "string", describe: "then write the transfer file FILE (as airgap export)" })
          .option("since", { type: "string", describe: "with --export: carry only what this older manifest.json lacks (a delta)" })
          .option("split", { type: "string", describe: "with --export: chunks of SIZE (700M, 4G; powers of 1024) and a signed chunk list" })
          .option("sequence", { type: "number", describe: "the bundle's sequence; default: one more than the folder's last manifest when the content changed" })
          .option("kubespray", { type: "string", describe: "Kubespray checkout to archive the release's commit from [default: the site's kubespray.checkout, else $KUBESPRAY_DIR]" })
          .option("kubespray-source", { type: "boolean", default: true, describe: "carry the Kubespray release's source (--no-kubespray-source: do not)" })
          .option("kit", { type: "boolean", default: true, describe: "carry the controller's kit: Ansible and pip wheels, Node.js, airgap itself (--no-kit: do not)" })
          .option("kit-index", { type: "string", describe: "Python index the kit's wheels come from [default: $AIRGAP_KIT_INDEX, else https://pypi.org/simple/]" })
          .option("json", { type: "boolean", default: false, describe: "the summary (of the run, the dry run, the export) as one JSON object on stdout, no progress" }),
      async (a) => {
        const { bundle, parseMirrorOptions } = await import("../bundle/bundle.js");
        const mirrors = parseMirrorOptions(a.mirror ?? []);
        const split = await splitOption(a.split);
        if (typeof mirrors === "string" || split === null) {
          usageError = true;
          process.stderr.write(`${typeof mirrors === "string" ? mirrors : `--split ${a.split}: write a size such as 700M or 4G`}\n\nRun "airgap bundle --help" for usage.\n`);
          return;
        }
        code = await bundle({
          site: a.site, out: a.out, dryRun: a.dryRun, filesFrom: a.filesFrom, mirrors,
          cache: a.cache, includeBase: a.includeBase, jobs: a.jobs, certDir: a.certDir, authFile: a.authfile,
          key: a.key, exportTo: a.export, since: a.since, split, json: a.json, sequence: a.sequence,
          kubespray: a.kubespray, noKubespraySource: !a.kubespraySource, kit: a.kit, kitIndex: a.kitIndex,
        });
      },
    )
    .command(
      "keygen <dir>",
      "Make the ed25519 key pair that signs bundles: airgap-bundle.key (private, 0600) and airgap-bundle.pub",
      (y) => y.positional("dir", { type: "string", demandOption: true, describe: "folder to write the two files into" }).option("json", { type: "boolean", default: false }),
      async (a) => {
        const { keygenCommand } = await import("./transfer.js");
        code = await keygenCommand(a.dir, { stdout: process.stdout, stderr: process.stderr, json: a.json });
      },
    )
    .command(
      "export <dir> <file>",
      "Write a signed bundle folder as one transfer file (tar: manifest and signature first, then the blobs)",
      (y) =>
        y
          .positional("dir", { type: "string", demandOption: true, describe: "the bundle folder" })
          .positional("file", { type: "string", demandOption: true, describe: "the transfer file to write" })
          .option("since", { type: "string", describe: "carry only what this older manifest.json lacks (a delta)" })
          .option("split", { type: "string", describe: "chunks of SIZE (700M, 4G; powers of 1024) and a signed chunk list" })
          .option("key", { type: "string", describe: "private key: checks the bundle's signature, signs the chunk list (needed with --split)" })
          .option("json", { type: "boolean", default: false, describe: "summary as JSON on stdout, no progress" }),
      async (a) => {
        const split = await splitOption(a.split);
        if (split === null) {
          usageError = true;
          process.stderr.write(`--split ${a.split}: write a size such as 700M or 4G\n\nRun "airgap export --help" for usage.\n`);
          return;
        }
        const { exportCommand } = await import("./transfer.js");
        code = await exportCommand({ dir: a.dir, file: a.file, since: a.since, split, key: a.key }, { stdout: process.stdout, stderr: process.stderr, json: a.json });
      },
    )
    .command(
      "import <files..>",
      "Verify a transfer file (signature, chunks, every blob) and only then move it into the store",
      (y) =>
        y
          .positional("files", { type: "string", array: true, demandOption: true, describe: "the transfer file, or its chunk list (FILE.chunks.json) or chunks" })
          .option("store", { type: "string", default: ".", describe: "the site's store (a bundle folder: manifest.json + blobs/)" })
          .option("trust", { type: "string", demandOption: true, describe: "the site's trusted public key (airgap-bundle.pub)" })
          .option("site", { type: "string", describe: "the site's name: a bundle made for another site is refused (the store's own site always binds)" })
          .option("allow-rollback", { type: "boolean", default: false, describe: "accept a bundle older than the store's current one, or another under its sequence (logged)" })
          .option("json", { type: "boolean", default: false, describe: "summary as JSON on stdout, no progress" }),
      async (a) => {
        const { importCommand } = await import("./transfer.js");
        code = await importCommand({ inputs: a.files, store: a.store, trust: a.trust, site: a.site, allowRollback: a.allowRollback }, { stdout: process.stdout, stderr: process.stderr, json: a.json });
      },
    )
    .command(
      "prune",
      "Remove the blobs of a store (or bundle folder) that no kept manifest references",
      (y) =>
        y
          .option("store", { type: "string", demandOption: true, describe: "the store or bundle folder" })
          .option("keep", { type: "number", default: 2, describe: "manifests kept: the current one and the newest imported before it" })
          .option("dry-run", { type: "boolean", default: false, describe: "say what would be removed; remove nothing" })
          .option("json", { type: "boolean", default: false, describe: "summary as JSON on stdout" }),
      async (a) => {
        const { pruneCommand } = await import("./transfer.js");
        code = await pruneCommand({ store: a.store, keep: a.keep, dryRun: a.dryRun }, { stdout: process.stdout, stderr: process.stderr, json: a.json });
      },
    )
    .command(
      "inspect <input>",
      "Say what a bundle holds: by kind with sizes, sources, pins (a bundle folder or store, a manifest.json, a transfer file or its chunk list)",
      (y) =>
        y
          .positional("input", { type: "string", demandOption: true, describe: "bundle folder, manifest.json, transfer file, FILE.chunks.json or a chunk" })
          .option("trust", { type: "string", describe: "a public key (airgap-bundle.pub): check the manifest's signature against it" })
          .option("list", { alias: "l", type: "boolean", default: false, describe: "also list every artifact" })
          .option("sbom", { type: "boolean", default: false, describe: "print the bundle's SBOM (CycloneDX 1.6 JSON) instead" })
          .option("json", { type: "boolean", default: false, describe: "the report as one JSON object on stdout (every artifact included)" }),
      async (a) => {
        const { inspectCommand } = await import("./inspect.js");
        code = await inspectCommand({ input: a.input, trust: a.trust, list: a.list, sbom: a.sbom }, { stdout: process.stdout, stderr: process.stderr, json: a.json });
      },
    )
    .command(
      "diff <old> <new>",
      "Compare two bundles (folders, manifests or transfer files): what was added, removed, changed, and what a delta from OLD to NEW would carry",
      (y) =>
        y
          .positional("old", { type: "string", demandOption: true, describe: "the bundle the site holds" })
          .positional("new", { type: "string", demandOption: true, describe: "the newer bundle" })
          .option("json", { type: "boolean", default: false, describe: "the comparison as one JSON object on stdout" }),
      async (a) => {
        const { diffCommand } = await import("./inspect.js");
        code = await diffCommand({ old: a.old, new: a.new }, { stdout: process.stdout, stderr: process.stderr, json: a.json });
      },
    )
    .option("color", { type: "boolean", default: true, describe: "colours in the output (--no-color, or NO_COLOR set, turns them off)" })
    .demandCommand(1, "name a command")
    .strict()
    .help()
    .alias("h", "help")
    .version(version())
    .fail((msg, err) => {
      if (err) throw err;
      usageError = true;
      process.stderr.write(`${msg}\n\nRun "airgap --help" for usage.\n`);
    });
  try {
    await parser.parseAsync();
  } catch (err) {
    return internalError(err, argv);
  }
  return usageError ? 2 : code;
}

/**
 * Any exception that reaches the top is a bug in airgap, never the user's
 * mistake: one line naming the input, exit 1; the stack only with AIRGAP_DEBUG=1.
 */
function internalError(err: unknown, argv: string[]): number {
  const subject = argv.slice(1).find((a) => !a.startsWith("-"));
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(
    `${chalk.red("error")}: internal error in airgap ${argv[0] ?? ""}${subject ? ` (${subject})` : ""}: ${message.split("\n")[0]}\n` +
      "This is a bug in airgap, not in your input: please report it with the site file. Run with AIRGAP_DEBUG=1 for details.\n",
  );
  if (process.env.AIRGAP_DEBUG === "1" && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
  return 1;
}
