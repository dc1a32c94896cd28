/**
 * Model hot update (spec §5.0, Sedna's ModelLoadingThread), shared by incremental learning (the
 * LC's hot-update file) and lifelong learning (the knowledge base index, with its own `parse`): the LocalController deploys a new model
 * by writing `{"model_config": {"model_path", "model_update_time"}}` to MODEL_HOT_UPDATE_CONFIG; the
 * inference worker polls that file every MODEL_POLL_PERIOD_SECONDS and loads the model when the
 * update time changes.
 *
 * This module parses the file and runs the polling loop; what "apply" means (load beside the old
 * model, swap) is the job's business. Differences from Sedna, on purpose:
 * - no `"latest"` first-poll reload (Sedna issue list §11.1 item 19): the version present at start
 *   is the current one;
 * - a half-written file (the LC writes it in place, not atomically), a bad update time, a missing
 *   or corrupt model: the old model keeps serving and the failure is reported once per distinct
 *   bad state, not at every poll; the state is retried when the file or the model changes;
 * - polls never overlap and the timer never keeps the process alive.
 */
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { SednaError, messageOf } from '../common/errors.js';
import { getLogger } from '../common/logger.js';

/** The parsed hot-update file. */
export interface HotUpdateConfig {
  /** Where the new model is (`/model-hot-update/<model file>` in a cluster). */
  readonly modelPath: string;
  /** The version: Go's `time.Now().String()` as the LC writes it (or an ISO 8601 time). */
  readonly modelUpdateTime: string;
}

/** Why a hot update failed (`details.reason` of its SEDNA_ERR_HOT_UPDATE). */
export type HotUpdateFailure =
  'config-unreadable' | 'config-json' | 'config-schema' | 'update-time' | 'model-missing' | 'model-invalid';

export function hotUpdateError(
  reason: HotUpdateFailure,
  message: string,
  details: Readonly<Record<string, unknown>> = {},
  cause?: unknown,
): SednaError {
  return new SednaError('SEDNA_ERR_HOT_UPDATE', `model hot update failed: ${message}`, {
    cause,
    details: { reason, ...details },
  });
}

// Go's Time.String(): "2006-01-02 15:04:05.999999999 -0700 MST", plus " m=+0.000000001" when the
// time carries a monotonic reading (time.Now() does). MST may be a name or a numeric "+08".
const GO_TIME =
  /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(\.\d{1,9})? ([+-])(\d{2})(\d{2})(?: [A-Za-z0-9+-]{1,10})?(?: m=[+-]\d+(?:\.\d+)?)?$/;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/;

/** Whether `text` is a time as the LC writes it (Go's `Time.String()`) or ISO 8601 with a zone. */
export function isUpdateTime(text: string): boolean {
  const go = GO_TIME.exec(text);
  if (go !== null) {
    const [date, time, sign, hh, mm] = [go[1], go[2], go[4], go[5], go[6]] as string[];
    const frac = (go[3] ?? '').slice(0, 4); // milliseconds are all Date.parse takes
    const iso = `${date}T${time}${frac}${sign}${hh}:${mm}`;
    return Number.isFinite(Date.parse(iso)) && sameCalendarDay(date as string, iso, `${sign}${hh}:${mm}`);
  }
  return ISO_TIME.test(text) && Number.isFinite(Date.parse(text));
}

/** Date.parse rolls 2024-02-31 over to March; a real timestamp never needs that. */
function sameCalendarDay(date: string, iso: string, zone: string): boolean {
  const ms = Date.parse(iso);
  const sign = zone.startsWith('-') ? -1 : 1;
  const offsetMs = sign * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6))) * 60_000;
  return new Date(ms + offsetMs).toISOString().slice(0, 10) === date;
}

/**
 * Parses the hot-update file. Throws SEDNA_ERR_HOT_UPDATE with `details.reason`: `config-json`
 * (not JSON: usually caught half-written), `config-schema` (no `model_config.model_path`) or
 * `update-time` (missing, empty or not a time).
 */
export function parseHotUpdateConfig(text: string, location: string): HotUpdateConfig {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw hotUpdateError(
      'config-json',
      `${location} is not valid JSON (half-written?): ${messageOf(err)}`,
      { location },
      err,
    );
  }
  const config = (parsed as { model_config?: unknown } | null)?.model_config;
  if (typeof config !== 'object' || config === null) {
    throw hotUpdateError('config-schema', `${location} has no "model_config" object`, { location });
  }
  const { model_path: modelPath, model_update_time: updateTime } = config as Record<string, unknown>;
  if (typeof modelPath !== 'string' || modelPath.trim() === '') {
    throw hotUpdateError('config-schema', `${location}: model_config.model_path must be a non-empty string`, {
      location,
      modelPath,
    });
  }
  if (typeof updateTime !== 'string' || !isUpdateTime(updateTime.trim())) {
    throw hotUpdateError(
      'update-time',
      `${location}: model_config.model_update_time=${JSON.stringify(updateTime)} is not a time ` +
        '(expected Go time.String() as the LC writes it, or ISO 8601)',
      { location, modelUpdateTime: updateTime },
    );
  }
  return { modelPath: modelPath.trim(), modelUpdateTime: updateTime.trim() };
}

/** What one poll found. */
export type PollOutcome<C extends HotUpdateConfig = HotUpdateConfig> =
  | { readonly kind: 'absent' }
  | { readonly kind: 'unchanged'; readonly version: string | undefined }
  | { readonly kind: 'updated'; readonly config: C }
  | { readonly kind: 'failed'; readonly error: SednaError; readonly repeated: boolean };

export interface HotUpdatePollerOptions<C extends HotUpdateConfig = HotUpdateConfig> {
  readonly configPath: string;
  readonly periodMs: number;
  /** The version in force at start (undefined: none yet). */
  readonly version?: string | undefined;
  /** The file's bytes, or undefined when it does not exist. */
  readonly read: (location: string) => Promise<Uint8Array | undefined>;
  /** Something that changes when the model at `location` changes (size + mtime), or undefined when it is missing. */
  readonly fingerprint: (location: string) => Promise<string | undefined>;
  /**
   * Reads the polled file into the version to apply (default {@link parseHotUpdateConfig}, the LC's
   * format); throws SEDNA_ERR_HOT_UPDATE for a file it cannot use.
   */
  readonly parse?: (text: Uint8Array, location: string) => C;
  /** Loads and swaps in the model; throws (ideally SEDNA_ERR_HOT_UPDATE) to keep the old one. */
  readonly apply: (config: C) => Promise<void>;
  /** Told about every update and every new failure (not about repeats of a known failure). */
  readonly onOutcome: (outcome: PollOutcome<C>) => Promise<void> | void;
  /** How long to wait before re-reading a file that did not parse, in case the LC was mid-write (default 200 ms). */
  readonly settleMs?: number;
}

function tryParse<C extends HotUpdateConfig>(
  parse: (bytes: Uint8Array, location: string) => C,
  bytes: Uint8Array,
  location: string,
): { config: C; error?: undefined } | { config?: undefined; error: SednaError } {
  try {
    return { config: parse(bytes, location) };
  } catch (err) {
    return {
      error:
        err instanceof SednaError
          ? err
          : hotUpdateError('config-schema', `${location}: ${messageOf(err)}`, { location }, err),
    };
  }
}

/** The LC's format, from bytes. */
function parseLcFile(bytes: Uint8Array, location: string): HotUpdateConfig {
  return parseHotUpdateConfig(Buffer.from(bytes).toString('utf8'), location);
}

function digest(bytes: Uint8Array): string {
  return createHash('sha1').update(bytes).digest('hex');
}

/**
 * Polls the hot-update file. `start()` arms an unref'd timer; each poll runs after the previous one
 * finished (`pollNow()` queues one at once); `close()` stops the timer and waits for a running poll.
 */
export class HotUpdatePoller<C extends HotUpdateConfig = HotUpdateConfig> {
  private current: string | undefined;
  private lastFailure: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private chain: Promise<unknown> = Promise.resolve();
  private closed = false;
  private readonly settleMs: number;
  private readonly parse: (bytes: Uint8Array, location: string) => C;

  constructor(private readonly options: HotUpdatePollerOptions<C>) {
    this.current = options.version;
    this.settleMs = options.settleMs ?? 200;
    this.parse = options.parse ?? (parseLcFile as unknown as (bytes: Uint8Array, location: string) => C);
  }

  /** The version of the model in force (its update time), if any. */
  get version(): string | undefined {
    return this.current;
  }

  start(): void {
    if (this.closed || this.timer !== undefined) return;
    this.arm();
  }

  /** Runs one poll now (after any poll in progress) and resolves with what it found. */
  pollNow(): Promise<PollOutcome<C>> {
    const run = this.chain.then(() => this.poll());
    this.chain = run.catch(() => undefined);
    return run;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    await this.chain;
  }

  private arm(): void {
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.pollNow()
        .catch((err: unknown) => {
          // Only a throwing outcome handler (e.g. a user's event listener) gets here; keep polling.
          getLogger('hot-update').error({ err }, 'a hot-update poll failed');
        })
        .finally(() => {
          if (!this.closed) this.arm();
        });
    }, this.options.periodMs);
    this.timer.unref();
  }

  private async poll(): Promise<PollOutcome<C>> {
    if (this.closed) return { kind: 'unchanged', version: this.current };
    const { configPath } = this.options;
    let bytes: Uint8Array | undefined;
    try {
      bytes = await this.options.read(configPath);
    } catch (err) {
      return this.fail(
        `read:${err instanceof SednaError ? err.code : messageOf(err)}`,
        hotUpdateError(
          'config-unreadable',
          `cannot read ${configPath}: ${messageOf(err)}`,
          { location: configPath },
          err,
        ),
      );
    }
    if (bytes === undefined) return { kind: 'absent' };
    let parsed = tryParse(this.parse, bytes, configPath);
    if (parsed.error !== undefined && this.settleMs > 0) {
      // The LC writes the file in place: a parse failure may be a write in progress. Look again.
      await sleep(this.settleMs);
      const again = await this.options.read(configPath).catch(() => undefined);
      if (again !== undefined && digest(again) !== digest(bytes)) {
        bytes = again;
        parsed = tryParse(this.parse, bytes, configPath);
      }
    }
    if (parsed.error !== undefined)
      return this.fail(`config:${digest(bytes)}:${String(parsed.error.details.reason)}`, parsed.error);
    const config = parsed.config;
    if (config.modelUpdateTime === this.current) return { kind: 'unchanged', version: this.current };
    const model = await this.options.fingerprint(config.modelPath).catch(() => undefined);
    const key = `model:${config.modelUpdateTime}:${config.modelPath}:${model ?? 'missing'}`;
    if (key === this.lastFailure) return { kind: 'unchanged', version: this.current };
    try {
      await this.options.apply(config);
    } catch (err) {
      const error =
        err instanceof SednaError && err.code === 'SEDNA_ERR_HOT_UPDATE'
          ? err
          : hotUpdateError('model-invalid', `cannot load ${config.modelPath}: ${messageOf(err)}`, {}, err);
      return this.fail(key, error);
    }
    this.current = config.modelUpdateTime;
    this.lastFailure = undefined;
    const outcome: PollOutcome<C> = { kind: 'updated', config };
    await this.options.onOutcome(outcome);
    return outcome;
  }

  private async fail(key: string, error: SednaError): Promise<PollOutcome<C>> {
    const repeated = key === this.lastFailure;
    this.lastFailure = key;
    const outcome: PollOutcome<C> = { kind: 'failed', error, repeated };
    if (!repeated) await this.options.onOutcome(outcome);
    return outcome;
  }
}
