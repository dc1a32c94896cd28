#!/usr/bin/env node
// Puts on each node what multi-edge-inference.yaml expects there, for `sedna run`: sedna.local.yaml
// runs it once per node before the job starts, with SEDNA_NODE_NAME and SEDNA_NODE_ROOT (the
// node's folder) in the environment.
//   edge-node-0, edge-node-1   the camera's recording, /data/videos/camera-N.mp4 (scene.mjs; the
//                              map points the VideoAnalyticsJob's video_address at it) and a copy
//                              at /data/videos/camera.mp4 (the ObjectSearchService's tracking
//                              workers), and the detector Model's (empty) folder
//   cloud-node                 the searched person's query images under /data/network_shared/reid/query/
//                              and the feature extractor Model's (empty) folder
// Existing files are kept.
import fs from 'node:fs/promises';
import path from 'node:path';
import { encodeJpeg } from 'sedna-sdk';
import { SCENE, encodeVideo, renderFrame, renderQueryImage } from './scene.mjs';

const node = process.env.SEDNA_NODE_NAME;
const root = process.env.SEDNA_NODE_ROOT;
if (node === undefined || root === undefined) {
  process.stderr.write('usage: SEDNA_NODE_NAME=<node> SEDNA_NODE_ROOT=<node folder> node prepare-node.mjs\n');
  process.exit(2);
}
const onNode = (nodePath) => path.join(root, nodePath);
const exists = (file) =>
  fs.access(file).then(
    () => true,
    () => false,
  );

const camera = /^edge-node-(\d+)$/.exec(node);
if (camera !== null) {
  await fs.mkdir(onNode('/data/models/color-blob-detector'), { recursive: true });
  const file = onNode(`/data/videos/camera-${camera[1]}.mp4`);
  if (await exists(file)) process.stdout.write(`${file}: present\n`);
  else {
    await fs.mkdir(path.dirname(file), { recursive: true });
    const frames = Array.from({ length: SCENE.frames }, (_, t) => renderFrame(Number(camera[1]), t));
    await encodeVideo(file, frames, SCENE);
    process.stdout.write(`${file}: camera ${camera[1]}, ${SCENE.frames} frames at ${SCENE.fps} fps\n`);
  }
  // The node's own camera under one name (object-search-service.yaml's tracking workers, one map entry).
  const own = onNode('/data/videos/camera.mp4');
  if (!(await exists(own))) await fs.copyFile(file, own);
} else if (node === 'cloud-node') {
  await fs.mkdir(onNode('/data/models/color-histogram-extractor'), { recursive: true });
  const query = onNode('/data/network_shared/reid/query');
  await fs.mkdir(query, { recursive: true });
  for (const scale of [2, 3]) {
    const file = path.join(query, `query-${scale}.jpg`);
    if (await exists(file)) continue;
    await fs.writeFile(file, await encodeJpeg({ ...renderQueryImage(0, scale), channels: 3 }));
    process.stdout.write(`${file}: the searched person, ${scale}x\n`);
  }
}
