/**
 * `node dist/kubespray/regenerate.js KUBESPRAY_DIR [OUT_DIR]`:
 * renders the catalogue of the Kubespray checkout in KUBESPRAY_DIR (its
 * release is read from its galaxy.yml) and writes
 * `OUT_DIR/kubespray-<release>.json` (default: the shipped catalogue folder).
 * Supporting a new release is this command plus a review of the diff.
 */
import { mkdirSync, readFileSync, existsSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { CATALOGUE_DIR, serializeCatalogue } from "../compile/kubespray/catalogue.js";
import { renderCatalogue } from "./render.js";

export function regenerate(kubespray: string, outDir = CATALOGUE_DIR, log: (s: string) => void = () => undefined): string {
  const started = Date.now();
  const c = renderCatalogue(path.resolve(kubespray), { log });
  mkdirSync(outDir, { recursive: true });
  const file = path.join(outDir, `kubespray-${c.kubespray}.json`);
  const text = serializeCatalogue(c);
  const before = existsSync(file) ? readFileSync(file, "utf8") : undefined;
  writeFileSync(file, text);
  const files = c.downloads.filter((d) => d.file).length;
  const images = c.downloads.filter((d) => d.image).length;
  log(
    `${before === undefined ? "wrote" : before === text ? "unchanged" : "updated"} ${file}: Kubespray ${c.kubespray}, ` +
      `Kubernetes ${c.kubernetes.supported.at(-1)}..${c.kubernetes.supported[0]} (default ${c.kubernetes.default}), ` +
      `${files} files, ${images} images, in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  return file;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [dir, out] = process.argv.slice(2);
  if (!dir) {
    process.stderr.write("usage: node dist/kubespray/regenerate.js KUBESPRAY_DIR [OUT_DIR]\n");
    process.exit(2);
  }
  try {
    regenerate(dir, out ? path.resolve(out) : undefined, (s) => process.stderr.write(`${s}\n`));
  } catch (err) {
    process.stderr.write(`error: ${(err as Error).message}\n`);
    process.exit(1);
  }
}
