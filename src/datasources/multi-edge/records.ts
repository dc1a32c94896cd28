/**
 * The records multi-edge inference components exchange (Sedna's `data_classes.py`, spec §8.1):
 * `DetTrackResult` (one video frame's detections, crops and features), `Target` (a searched
 * person's features) and `TargetImages`. Field names are camelCase; each documents Sedna's name.
 *
 * Unlike Sedna's classes these hold typed data (JPEG bytes as `Uint8Array`, features as
 * `Float32Array`), never share mutable defaults between instances, and travel as binary frames
 * (see codec.ts) instead of pickles.
 */
import { invalidArgument } from '../../common/errors.js';

/** Sedna's `OP_MODE`: what the detection/tracking model is asked to do. */
export const OP_MODE = Object.freeze({
  DETECTION: 'detection',
  TRACKING: 'tracking',
  COVID19: 'covid19',
  NOOP: 'noop',
} as const);
export type OpMode = (typeof OP_MODE)[keyof typeof OP_MODE];

/** `[x1, y1, x2, y2]` in pixels of the scene. */
export type BoxCoord = readonly [number, number, number, number];

export interface DetTrackResultInit {
  /** Sedna `userID`: the end user the results belong to (default `DEFAULT`). */
  userID?: string;
  /** Sedna `frame_index`. */
  frameIndex?: number;
  /** Sedna `bbox`: the encoded (JPEG/PNG) crops of the detected objects, or the query images. */
  bbox?: Uint8Array[];
  /** Sedna `tracklets` (`tracking_ids`): one tracking id per box. */
  tracklets?: (number | string)[];
  /** Sedna `bbox_coord`: one `[x1, y1, x2, y2]` per box. */
  bboxCoord?: BoxCoord[];
  /** Sedna `scene`: the whole frame, encoded (JPEG in Sedna's example, quality 90). */
  scene?: Uint8Array | undefined;
  /** Sedna `confidence`: one score per box. */
  confidence?: number[];
  /** Sedna `detection_time`: `%a, %d %B %Y %H:%M:%S.%f` (see {@link formatDetectionTime}). */
  detectionTime?: string | undefined;
  /** Sedna `camera`: the camera the frame came from. */
  camera?: number | string;
  /** Sedna `features`: one feature vector per box, added by feature extraction. */
  features?: Float32Array[];
  /** Sedna `is_target`: `false`, or the index of the box that matched the target. */
  isTarget?: boolean | number;
  /** Sedna `targetID` (`ID`): the ids of the matched subjects. */
  targetID?: string[];
}

/** One frame's detection/tracking result, enriched along the pipeline. */
export class DetTrackResult {
  userID: string;
  frameIndex: number;
  bbox: Uint8Array[];
  tracklets: (number | string)[];
  bboxCoord: BoxCoord[];
  scene: Uint8Array | undefined;
  confidence: number[];
  detectionTime: string | undefined;
  camera: number | string;
  features: Float32Array[];
  isTarget: boolean | number;
  targetID: string[];

  constructor(init: DetTrackResultInit = {}) {
    this.userID = init.userID ?? 'DEFAULT';
    this.frameIndex = init.frameIndex ?? 0;
    this.bbox = init.bbox ?? [];
    this.tracklets = init.tracklets ?? [];
    this.bboxCoord = init.bboxCoord ?? [];
    this.scene = init.scene;
    this.confidence = init.confidence ?? [];
    this.detectionTime = init.detectionTime;
    this.camera = init.camera ?? 0;
    this.features = init.features ?? [];
    this.isTarget = init.isTarget ?? false;
    this.targetID = init.targetID ?? [];
  }

  /**
   * Sedna `image_key`: `"<POSIX timestamp of detectionTime>_<camera>"` (the timestamp as Python
   * prints a float), or `"0"` when the time does not parse. Identifies the frame.
   */
  get imageKey(): string {
    const seconds = this.detectionTime === undefined ? undefined : parseDetectionTime(this.detectionTime);
    if (seconds === undefined) return '0';
    return `${pythonFloat(seconds)}_${String(this.camera)}`;
  }
}

export interface TargetInit {
  userid: string;
  features: Float32Array[];
  targetid?: string;
  trackingId?: string | undefined;
  location?: string | undefined;
  frameIndex?: number;
}

/** Sedna `Target`: the features of a searched subject (from its query images). */
export class Target {
  userid: string;
  features: Float32Array[];
  targetid: string;
  trackingId: string | undefined;
  location: string | undefined;
  frameIndex: number;

  constructor(init: TargetInit) {
    this.userid = init.userid;
    this.features = init.features;
    this.targetid = init.targetid ?? '0000';
    this.trackingId = init.trackingId;
    this.location = init.location;
    this.frameIndex = init.frameIndex ?? 0;
  }
}

/** Sedna `TargetImages`: a user's query images. */
export class TargetImages {
  userid: string;
  targets: Uint8Array[];

  constructor(userid: string, targets: Uint8Array[] = []) {
    this.userid = userid;
    this.targets = targets;
  }
}

// ---------------------------------------------------------------------------------------------
// Sedna's detection-time format, `%a, %d %B %Y %H:%M:%S.%f`, in local time as Python writes it.

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'] as const;
const MONTHS = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
] as const;
const TIME_PATTERN =
  /^(Sun|Mon|Tue|Wed|Thu|Fri|Sat), (\d{2}) ([A-Z][a-z]+) (\d{4}) (\d{2}):(\d{2}):(\d{2})\.(\d{1,6})$/;

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

/**
 * Formats a time the way Sedna's detection worker does (`%a, %d %B %Y %H:%M:%S.%f`, local time),
 * e.g. `Mon, 05 June 2023 14:03:02.123000`. `micros` adds sub-millisecond precision.
 */
export function formatDetectionTime(date: Date = new Date(), micros = 0): string {
  if (Number.isNaN(date.getTime())) throw invalidArgument('date', date, 'a valid Date');
  const fraction = date.getMilliseconds() * 1000 + Math.max(0, Math.min(999, Math.trunc(micros)));
  return (
    `${DAYS[date.getDay()] ?? ''}, ${pad(date.getDate())} ${MONTHS[date.getMonth()] ?? ''} ${date.getFullYear()} ` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(fraction, 6)}`
  );
}

/**
 * Parses Sedna's detection time into POSIX seconds (with microseconds), or `undefined` when the
 * text is not in that format (Sedna then uses image key `"0"`). The weekday is not checked, as
 * Python's `strptime` does not check it either.
 */
export function parseDetectionTime(text: string): number | undefined {
  const m = TIME_PATTERN.exec(text);
  if (m === null) return undefined;
  const month = MONTHS.indexOf(m[3] as (typeof MONTHS)[number]);
  if (month < 0) return undefined;
  const [day, year, hours, minutes, seconds] = [m[2], m[4], m[5], m[6], m[7]].map(Number) as [
    number,
    number,
    number,
    number,
    number,
  ];
  const date = new Date(year, month, day, hours, minutes, seconds, 0);
  // Reject what Python rejects: 31 February, hour 25...
  if (date.getDate() !== day || date.getMonth() !== month || hours > 23 || minutes > 59 || seconds > 61) {
    return undefined;
  }
  const micros = Number((m[8] ?? '0').padEnd(6, '0'));
  return date.getTime() / 1000 + micros / 1e6;
}

/** A number as Python's `str(float)` prints it: integers keep a `.0`. */
function pythonFloat(value: number): string {
  return Number.isInteger(value) ? `${value}.0` : String(value);
}
