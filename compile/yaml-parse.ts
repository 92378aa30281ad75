/**
 * YAML reading (the `yaml` package), loaded on first use: loading the package
 * costs about 70 ms, and a compile whose roles come from the build's index
 * (compile/roles.ts) and whose site names no Kubespray checkout reads no YAML.
 */
import { createRequire } from "node:module";

type Yaml = typeof import("yaml");
let yaml: Yaml | undefined;

/** `yaml`'s `parse(text, options)`: the document as plain data; throws on a syntax error, as `yaml` does. */
export function parseYaml(text: string, options?: Parameters<Yaml["parse"]>[2]): unknown {
  yaml ??= createRequire(import.meta.url)("yaml") as Yaml;
  return yaml.parse(text, options);
}
