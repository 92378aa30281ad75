/**
 * When Kubespray downloads something: a condition over Kubespray's settings,
 * in airgap's own small format (stored in the catalogue as JSON).
 *
 * The regenerator reads each download's `enabled` / `file` / `container`
 * expression (a Jinja2 expression over plain variables) and turns it into a
 * `Cond`; it refuses an expression it cannot read rather than guess. The
 * compiler evaluates a `Cond` against the site's settings, each unset setting
 * taking Kubespray's default (also in the catalogue).
 */

export type Scalar = string | number | boolean | null;

export type Cond =
  | boolean
  /** The setting is true (Ansible's truthiness); `default` when the setting is undefined. */
  | { var: string; default?: Scalar }
  | { var: string; eq: Scalar; default?: Scalar }
  | { var: string; ne: Scalar; default?: Scalar }
  | { var: string; in: Scalar[]; default?: Scalar }
  | { defined: string }
  | { not: Cond }
  | { all: Cond[] }
  | { any: Cond[] };

/** A setting's value as the evaluator sees it: undefined means "not defined anywhere". */
export type Lookup = (name: string) => unknown;

/** Ansible's truthiness of a rendered value (`bool` filter and `when:`). */
export function truthy(v: unknown): boolean {
  if (typeof v === "boolean") return v;
  if (typeof v === "number") return v !== 0;
  if (typeof v === "string") return ["true", "yes", "on", "1", "y", "t"].includes(v.trim().toLowerCase());
  if (Array.isArray(v)) return v.length > 0;
  if (v && typeof v === "object") return Object.keys(v).length > 0;
  return false;
}

function same(a: unknown, b: Scalar): boolean {
  if (typeof a === typeof b) return a === b;
  return String(a) === String(b);
}

export function evaluate(c: Cond, get: Lookup): boolean {
  if (typeof c === "boolean") return c;
  if ("all" in c) return c.all.every((x) => evaluate(x, get));
  if ("any" in c) return c.any.some((x) => evaluate(x, get));
  if ("not" in c) return !evaluate(c.not, get);
  if ("defined" in c) return get(c.defined) !== undefined;
  let v = get(c.var);
  if (v === undefined) {
    if (!("default" in c)) throw new Error(`the setting ${c.var} has no value`);
    v = c.default;
  }
  if ("eq" in c) return same(v, c.eq);
  if ("ne" in c) return !same(v, c.ne);
  if ("in" in c) return c.in.some((x) => same(v, x));
  return truthy(v);
}

/** Every setting a condition reads. */
export function variablesOf(c: Cond): string[] {
  if (typeof c === "boolean") return [];
  if ("all" in c) return c.all.flatMap(variablesOf);
  if ("any" in c) return c.any.flatMap(variablesOf);
  if ("not" in c) return variablesOf(c.not);
  if ("defined" in c) return [c.defined];
  return [c.var];
}

const lit = (v: Scalar): string => (typeof v === "string" ? `'${v}'` : v === null ? "none" : String(v));

/** A readable form, for messages and docs. */
export function format(c: Cond, nested = false): string {
  if (typeof c === "boolean") return c ? "always" : "never";
  const wrap = (s: string) => (nested ? `(${s})` : s);
  if ("all" in c) return wrap(c.all.map((x) => format(x, true)).join(" and "));
  if ("any" in c) return wrap(c.any.map((x) => format(x, true)).join(" or "));
  if ("not" in c) return `not ${format(c.not, true)}`;
  if ("defined" in c) return `${c.defined} is defined`;
  if ("eq" in c) return `${c.var} == ${lit(c.eq)}`;
  if ("ne" in c) return `${c.var} != ${lit(c.ne)}`;
  if ("in" in c) return `${c.var} in [${c.in.map(lit).join(", ")}]`;
  return c.var;
}

/** Simplifies `all`/`any` of one member and constant members. */
export function simplify(c: Cond): Cond {
  if (typeof c === "boolean") return c;
  if ("all" in c || "any" in c) {
    const isAll = "all" in c;
    const members = (isAll ? (c as { all: Cond[] }).all : (c as { any: Cond[] }).any).map(simplify);
    const kept: Cond[] = [];
    for (const m of members) {
      if (m === isAll) continue;
      if (m === !isAll) return !isAll;
      kept.push(m);
    }
    if (kept.length === 0) return isAll;
    if (kept.length === 1) return kept[0];
    return isAll ? { all: kept } : { any: kept };
  }
  if ("not" in c) {
    const inner = simplify(c.not);
    return typeof inner === "boolean" ? !inner : { not: inner };
  }
  return c;
}

// ---- Parsing a Jinja2 expression of the kind Kubespray writes in `downloads` ----

type Token = { t: "id" | "str" | "num" | "op"; v: string };

function tokenize(s: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < s.length) {
    const ch = s[i];
    if (/\s/.test(ch)) {
      i++;
    } else if (/[A-Za-z_]/.test(ch)) {
      let j = i;
      while (j < s.length && /[A-Za-z0-9_]/.test(s[j])) j++;
      out.push({ t: "id", v: s.slice(i, j) });
      i = j;
    } else if (/[0-9]/.test(ch)) {
      let j = i;
      while (j < s.length && /[0-9.]/.test(s[j])) j++;
      out.push({ t: "num", v: s.slice(i, j) });
      i = j;
    } else if (ch === "'" || ch === '"') {
      const j = s.indexOf(ch, i + 1);
      if (j < 0) throw new Error("unterminated string");
      out.push({ t: "str", v: s.slice(i + 1, j) });
      i = j + 1;
    } else if (s.startsWith("==", i) || s.startsWith("!=", i)) {
      out.push({ t: "op", v: s.slice(i, i + 2) });
      i += 2;
    } else if ("()[],|".includes(ch)) {
      out.push({ t: "op", v: ch });
      i++;
    } else {
      throw new Error(`unexpected "${ch}"`);
    }
  }
  return out;
}

type Operand = { kind: "var"; name: string; default?: Scalar } | { kind: "lit"; value: Scalar } | { kind: "cond"; cond: Cond };

class Parser {
  private i = 0;
  constructor(private readonly toks: Token[]) {}

  private peek(v?: string): Token | undefined {
    const t = this.toks[this.i];
    return v === undefined || t?.v === v ? t : undefined;
  }
  private take(v?: string): Token {
    const t = this.toks[this.i];
    if (!t || (v !== undefined && t.v !== v)) throw new Error(`expected ${v ?? "more"}, found ${t ? `"${t.v}"` : "the end"}`);
    this.i++;
    return t;
  }
  done(): boolean {
    return this.i >= this.toks.length;
  }

  or(): Cond {
    const parts = [this.and()];
    while (this.peek("or")) {
      this.take();
      parts.push(this.and());
    }
    return parts.length === 1 ? parts[0] : { any: parts };
  }
  private and(): Cond {
    const parts = [this.not()];
    while (this.peek("and")) {
      this.take();
      parts.push(this.not());
    }
    return parts.length === 1 ? parts[0] : { all: parts };
  }
  private not(): Cond {
    if (this.peek("not")) {
      this.take();
      return { not: this.not() };
    }
    return this.comparison();
  }
  private comparison(): Cond {
    const left = this.operand();
    const t = this.peek();
    if (t?.v === "==" || t?.v === "!=") {
      this.take();
      const right = this.operand();
      if (left.kind !== "var" || right.kind !== "lit") throw new Error("only `variable == literal` comparisons are read");
      const d = "default" in left ? { default: left.default } : {};
      return t.v === "==" ? { var: left.name, eq: right.value, ...d } : { var: left.name, ne: right.value, ...d };
    }
    if (t?.v === "in" || (t?.v === "not" && this.toks[this.i + 1]?.v === "in")) {
      const negate = t.v === "not";
      if (negate) this.take();
      this.take("in");
      const list = this.list();
      if (left.kind !== "var") throw new Error("only `variable in [...]` is read");
      const d = "default" in left ? { default: left.default } : {};
      const c: Cond = { var: left.name, in: list, ...d };
      return negate ? { not: c } : c;
    }
    if (t?.v === "is") {
      this.take();
      const negate = !!this.peek("not");
      if (negate) this.take();
      this.take("defined");
      if (left.kind !== "var") throw new Error("only `variable is defined` is read");
      const c: Cond = { defined: left.name };
      return negate ? { not: c } : c;
    }
    if (left.kind === "cond") return left.cond;
    if (left.kind === "lit") return truthy(left.value);
    return "default" in left ? { var: left.name, default: left.default } : { var: left.name };
  }
  private list(): Scalar[] {
    this.take("[");
    const out: Scalar[] = [];
    while (!this.peek("]")) {
      const o = this.operand();
      if (o.kind !== "lit") throw new Error("lists hold literals only");
      out.push(o.value);
      if (!this.peek("]")) this.take(",");
    }
    this.take("]");
    return out;
  }
  private operand(): Operand {
    const t = this.take();
    let o: Operand;
    if (t.v === "(" && t.t === "op") {
      o = { kind: "cond", cond: this.or() };
      this.take(")");
    } else if (t.t === "str") {
      o = { kind: "lit", value: t.v };
    } else if (t.t === "num") {
      o = { kind: "lit", value: Number(t.v) };
    } else if (t.t === "id") {
      const low = t.v.toLowerCase();
      if (low === "true" || low === "false") o = { kind: "lit", value: low === "true" };
      else if (low === "none") o = { kind: "lit", value: null };
      else if (["and", "or", "not", "in", "is"].includes(t.v)) throw new Error(`unexpected "${t.v}"`);
      else o = { kind: "var", name: t.v };
    } else {
      throw new Error(`unexpected "${t.v}"`);
    }
    while (this.peek("|")) {
      this.take();
      const f = this.take().v;
      if (f === "bool") continue;
      if (f === "d" || f === "default") {
        this.take("(");
        const arg = this.operand();
        this.take(")");
        if (o.kind !== "var" || arg.kind !== "lit") throw new Error("default() is read on a variable with a literal");
        o = { ...o, default: arg.value };
        continue;
      }
      throw new Error(`filter "${f}" is not read`);
    }
    return o;
  }
}

/**
 * A Kubespray value as a condition: a YAML boolean, or a string holding one
 * Jinja2 expression (`"{{ kube_network_plugin == 'calico' }}"`). Throws with
 * the reason when the expression is outside what airgap reads.
 */
export function parseCondition(raw: unknown): Cond {
  if (typeof raw === "boolean") return raw;
  if (typeof raw !== "string") throw new Error(`not a condition: ${JSON.stringify(raw)}`);
  const s = raw.trim();
  if (/^(true|yes|on)$/i.test(s)) return true;
  if (/^(false|no|off)$/i.test(s)) return false;
  const m = /^\{\{-?([\s\S]*?)-?\}\}$/.exec(s);
  if (!m || m[1].includes("{{")) throw new Error(`not one Jinja2 expression: ${s}`);
  const p = new Parser(tokenize(m[1]));
  const c = p.or();
  if (!p.done()) throw new Error(`cannot read the rest of ${s}`);
  return simplify(c);
}
