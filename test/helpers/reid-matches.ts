/**
 * ReID's matches.jsonl from the multi-edge example's workers, scored against the scene's ground
 * truth (examples/multi-edge-inference/scene.mjs): which lines matched the searched person's box.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { ROOT } from './paths.js';

interface SceneModule {
  visiblePeople(camera: number, t: number): unknown[];
  judgeMatch(truthFrame: unknown[], targetId: string, box: number[] | undefined): boolean;
  TARGET_ID: string;
}

export interface MatchLine {
  camera: number;
  frameIndex: number;
  /** The matched box's index, -1 for none. */
  match: number;
  box: number[] | null;
}

/** The lines of `file`, and those the ground truth calls right (the searched person's box, or none when absent). */
export async function scoredMatches(file: string): Promise<{ lines: MatchLine[]; correct: MatchLine[] }> {
  const scene = (await import(path.join(ROOT, 'examples', 'multi-edge-inference', 'scene.mjs'))) as SceneModule;
  const lines = (await fs.readFile(file, 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as MatchLine);
  const correct = lines.filter((m) =>
    scene.judgeMatch(scene.visiblePeople(m.camera, m.frameIndex), scene.TARGET_ID, m.box ?? undefined),
  );
  return { lines, correct };
}
