/**
 * Progress of a long download, on stderr: one line redrawn in place on a
 * terminal (count, bytes, rate, current artifact), one plain line per artifact
 * otherwise (logs, CI).
 */

export function formatBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  const units = ["kB", "MB", "GB", "TB"];
  let v = n;
  let u = -1;
  do {
    v /= 1000;
    u++;
  } while (v >= 1000 && u < units.length - 1);
  return `${v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)} ${units[u]}`;
}

export function formatRate(bytes: number, ms: number): string {
  return ms <= 0 ? "-" : `${formatBytes(Math.round((bytes * 1000) / ms))}/s`;
}

export function formatDuration(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}

export interface ProgressStream {
  write(s: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export class Progress {
  private done = 0;
  private bytes = 0;
  private readonly started = Date.now();
  private readonly current = new Set<string>();
  private lastDraw = 0;
  private drawn = false;

  constructor(
    private readonly out: ProgressStream,
    private readonly total: number,
    /** Known bytes to fetch (files without a known size are not counted). */
    private readonly totalBytes: number,
  ) {}

  private get tty(): boolean {
    return this.out.isTTY === true;
  }

  start(label: string): void {
    this.current.add(label);
    this.draw();
  }

  bytesIn(n: number): void {
    this.bytes += n;
    this.draw();
  }

  /** Takes back bytes counted for an attempt that failed and will be retried. */
  retry(label: string, bytesLost: number, reason: string): void {
    this.bytes -= bytesLost;
    this.line(`retrying ${label}: ${reason}`);
  }

  finish(label: string, size: number): void {
    this.current.delete(label);
    this.done++;
    if (this.tty) this.draw(true);
    else this.out.write(`[${this.done}/${this.total}] fetched ${label} (${formatBytes(size)})\n`);
  }

  fail(label: string): void {
    this.current.delete(label);
    this.done++;
    this.draw(true);
  }

  /** A message above the progress line. */
  line(text: string): void {
    this.clear();
    this.out.write(`${text}\n`);
    this.draw(true);
  }

  /** Removes the progress line (call when done). */
  end(): void {
    this.clear();
  }

  get elapsedMs(): number {
    return Date.now() - this.started;
  }

  get fetchedBytes(): number {
    return this.bytes;
  }

  private clear(): void {
    if (this.tty && this.drawn) {
      this.out.write("\r\x1b[K");
      this.drawn = false;
    }
  }

  private draw(force = false): void {
    if (!this.tty) return;
    const now = Date.now();
    if (!force && now - this.lastDraw < 100) return;
    this.lastDraw = now;
    const of = this.totalBytes > 0 ? ` / ${formatBytes(this.totalBytes)}` : "";
    const name = [...this.current][0] ?? "";
    let text = `[${this.done}/${this.total}] ${formatBytes(this.bytes)}${of}  ${formatRate(this.bytes, now - this.started)}  ${name}`;
    const width = (this.out.columns ?? 100) - 1;
    if (text.length > width) text = text.slice(0, width);
    this.out.write(`\r\x1b[K${text}`);
    this.drawn = true;
  }
}

/**
 * Progress of one long stream of bytes (export, import): one line redrawn in
 * place, on a terminal only; nothing otherwise (logs, --json).
 */
export class ByteProgress {
  private total = 0;
  private bytes = 0;
  private started = Date.now();
  private lastDraw = 0;
  private drawn = false;

  constructor(
    private readonly out: ProgressStream,
    private readonly what: string,
  ) {}

  begin(total: number): void {
    this.total = total;
    this.bytes = 0;
    this.started = Date.now();
  }

  add(n: number): void {
    this.bytes += n;
    if (this.out.isTTY !== true) return;
    const now = Date.now();
    if (now - this.lastDraw < 100) return;
    this.lastDraw = now;
    const pct = this.total > 0 ? ` (${Math.min(100, Math.floor((this.bytes * 100) / this.total))}%)` : "";
    this.out.write(`\r\x1b[K${this.what}: ${formatBytes(this.bytes)} / ${formatBytes(this.total)}${pct}  ${formatRate(this.bytes, now - this.started)}`);
    this.drawn = true;
  }

  end(): void {
    if (this.drawn) this.out.write("\r\x1b[K");
    this.drawn = false;
  }
}
