/**
 * Video fixtures for the multi-edge tests: the example's two-camera scene encoded once per run
 * (ffmpeg), and ffmpeg serving a file as a live stream (RTMP or HTTP-TS, one client each).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
// @ts-expect-error -- plain JavaScript example module without types
import * as sceneModule from '../../examples/multi-edge-inference/scene.mjs';

export interface TruthPerson {
  id: string;
  box: [number, number, number, number];
  visible: number;
}

export interface SceneTruth {
  width: number;
  height: number;
  fps: number;
  frames: number;
  target: string;
  cameras: { file: string; frames: TruthPerson[][] }[];
}

interface SceneApi {
  SCENE: { width: number; height: number; fps: number; frames: number };
  PEOPLE: readonly { id: string }[];
  TARGET_ID: string;
  renderFrame(camera: number, t: number): Uint8Array;
  renderQueryImage(person: number, scale?: number): { width: number; height: number; data: Uint8Array };
  visiblePeople(camera: number, t: number): TruthPerson[];
  judgeMatch(truthFrame: TruthPerson[], targetId: string, matchedBox: readonly number[] | undefined): boolean;
  writeSceneVideos(dir: string, frames?: number): Promise<SceneTruth>;
  encodeVideo(
    file: string,
    frames: Uint8Array[],
    size: { width: number; height: number; fps: number },
  ): Promise<string>;
}
export const scene = sceneModule as SceneApi;

let videos: Promise<SceneTruth> | undefined;
/** The two camera videos and their ground truth, written once per test file. */
export function sceneVideos(): Promise<SceneTruth> {
  videos ??= scene.writeSceneVideos(fs.mkdtempSync(path.join(os.tmpdir(), 'sedna-scene-')));
  return videos;
}

/** A free loopback port (bound and released: fine for ffmpeg's one-shot listeners in tests). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** ffmpeg publishing `file` in real time as a listening RTMP or HTTP-TS server (one client). */
export function serveStream(
  file: string,
  protocol: 'rtmp' | 'http',
  port: number,
  loops = 0,
): { url: string; child: ChildProcess } {
  const url = protocol === 'rtmp' ? `rtmp://127.0.0.1:${port}/live/s` : `http://127.0.0.1:${port}/s.ts`;
  const format = protocol === 'rtmp' ? ['-f', 'flv'] : ['-f', 'mpegts'];
  const child = spawn(
    'ffmpeg',
    [
      '-hide_banner',
      '-loglevel',
      'error',
      '-re',
      '-stream_loop',
      String(loops),
      '-i',
      file,
      '-c:v',
      'libx264',
      '-preset',
      'ultrafast',
      '-g',
      '5',
      '-pix_fmt',
      'yuv420p',
      ...format,
      '-listen',
      '1',
      url,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  child.stderr.resume();
  return { url, child };
}

export function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolve();
      return;
    }
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}
