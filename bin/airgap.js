#!/usr/bin/env node
// The type check runs in its own process: start it before loading the rest.
import { prestart } from "../dist/compile/load/prestart.js";

prestart(process.argv.slice(2));
const { main } = await import("../dist/cli/main.js");
process.exitCode = await main(process.argv.slice(2));
